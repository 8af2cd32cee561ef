// The HTTP tests of reservations.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../reservations.test.js';
