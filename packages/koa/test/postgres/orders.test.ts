// The HTTP tests of orders.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../orders.test.js';
