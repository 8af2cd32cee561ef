// The property test of random requests, against the real server with WORKERS=2 over PostgreSQL.
import './engine.js';
import '../property.test.js';
