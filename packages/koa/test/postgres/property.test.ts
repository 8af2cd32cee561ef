// The HTTP tests of property.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../property.test.js';
