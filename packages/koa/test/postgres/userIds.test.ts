// The HTTP tests of userIds.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../userIds.test.js';
