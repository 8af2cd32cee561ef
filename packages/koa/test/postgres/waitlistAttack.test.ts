// The attack on the waitlist over HTTP (waitlistAttack.test.ts), on the PostgreSQL engine.
import './engine.js';
import '../waitlistAttack.test.js';
