// The PostgreSQL engine (the same engine API as @usher/engine) comes next.
export {};
