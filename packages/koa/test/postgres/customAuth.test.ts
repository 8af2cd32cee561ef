// The HTTP tests of customAuth.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../customAuth.test.js';
