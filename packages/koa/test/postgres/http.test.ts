// The HTTP tests of http.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../http.test.js';
