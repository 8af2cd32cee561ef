// The hostile ticket tests of ticketsAttack.test.ts (SPEC §11), on the PostgreSQL engine.
import './engine.js';
import '../ticketsAttack.test.js';
