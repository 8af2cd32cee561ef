import test from 'ava';
import { callgrindCount, JIT_COMPILERS } from '../src/http/valgrind.js';

/** A dump as callgrind writes it: names compressed after their first use, relative positions, a trailing space after `calls=`. */
const dump = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
desc: Trigger: dump window-1

positions: line
events: Ir
summary: 1000

ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) uv_run
0 100
cfn=(2) v8::internal::Runtime_CompileOptimized(int, unsigned long*, v8::internal::Isolate*)
calls=2 0 
0 500
cfn=(3) Builtins_CallFunction
calls=7 0 
+2 300

fn=(2)
0 380
cfn=(4) v8::internal::Runtime_CompileLazy(int, unsigned long*, v8::internal::Isolate*)
calls=1 0 
0 120

fn=(3)
-1 80
cfn=(4)
calls=3 0 
0 200
cfn=(5) v8::internal::Heap::Scavenge()
calls=1 0 
0 20

fn=(4)
0 320

fn=(5)
0 20

totals: 1000
`;

test('the JIT compilers are counted once, nested calls inside them not again', (t) => {
  // CompileOptimized from uv_run: 500 (its call to CompileLazy, 120, is inside it); CompileLazy from JavaScript: 200.
  t.deepEqual(callgrindCount(dump), { total: 1000, excluded: 700 });
});

test('a compressed name is resolved wherever it is used again', (t) => {
  t.deepEqual(callgrindCount(dump, /^v8::internal::Heap::Scavenge/), { total: 1000, excluded: 20 });
  t.deepEqual(callgrindCount(dump, /^v8::internal::Runtime_CompileLazy/), {
    total: 1000,
    excluded: 320,
  });
});

test('what the JIT compilers are', (t) => {
  t.true(
    JIT_COMPILERS.test(
      'v8::internal::Runtime_CompileOptimized(int, unsigned long*, v8::internal::Isolate*)',
    ),
  );
  t.true(
    JIT_COMPILERS.test(
      'v8::internal::Runtime_CompileLazy(int, unsigned long*, v8::internal::Isolate*)',
    ),
  );
  t.true(
    JIT_COMPILERS.test(
      'v8::internal::baseline::BaselineBatchCompiler::CompileBatch(v8::internal::Handle<v8::internal::JSFunction>)',
    ),
  );
  t.false(JIT_COMPILERS.test('v8::internal::Heap::Scavenge()'));
  t.false(JIT_COMPILERS.test('Builtins_CompileLazy'));
});

test('a dump without totals is read from its summary; one counting something else first is refused', (t) => {
  t.is(callgrindCount(dump.replace('totals: 1000\n', '')).total, 1000);
  t.throws(() => callgrindCount(dump.replace('events: Ir', 'events: Dr Ir')), {
    message: /counts Dr first/,
  });
  t.throws(() => callgrindCount('# callgrind format\n'), { message: /not a callgrind dump/ });
});
