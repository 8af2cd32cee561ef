// The HTTP tests of waitlist.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../waitlist.test.js';
