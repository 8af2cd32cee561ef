// The HTTP tests of catalog.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../catalog.test.js';
