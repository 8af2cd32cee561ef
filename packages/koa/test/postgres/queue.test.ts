// The HTTP tests of queue.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../queue.test.js';
