// The HTTP tests of rooms.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../rooms.test.js';
