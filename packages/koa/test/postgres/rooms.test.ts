// The HTTP tests of rooms.test.ts (rooms per concert, /admin/rooms, metrics by room), on the PostgreSQL engine.
import './engine.js';
import '../rooms.test.js';
