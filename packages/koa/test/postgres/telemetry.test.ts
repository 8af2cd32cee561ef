// The HTTP tests of telemetry.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../telemetry.test.js';
