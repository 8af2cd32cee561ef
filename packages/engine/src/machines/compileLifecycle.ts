import { transition, type AnyStateMachine } from 'xstate';

/** The name {@link Lifecycle.next} uses for a state's `after` transition. */
export const TIMEOUT = 'timeout';
export type Timeout = typeof TIMEOUT;

/**
 * A machine compiled into a lookup table: which state each event leads to.
 *
 * Entities stay plain data (a state name and their own fields); the table is
 * consulted when an entity changes state, which costs a map lookup instead of a
 * full XState macrostep.
 */
export interface Lifecycle<S extends string, E extends string> {
  readonly id: string;
  readonly initial: S;
  readonly states: readonly S[];
  /** The state after `event` in `state`, or `undefined` when the machine ignores the event there. */
  next(state: S, event: E | Timeout): S | undefined;
  /** The delay name of the state's `after` transition, if it has one. */
  timerOf(state: S): string | undefined;
  /**
   * How long the state lasts before its `after` transition, in ms, when the
   * machine was given that delay as a number (`machine.provide({ delays })`,
   * see {@link lifecyclesFor}); `undefined` otherwise.
   */
  delayOf(state: S): number | undefined;
  isFinal(state: S): boolean;
}

/**
 * Compiles a flat, guard-free XState machine into a {@link Lifecycle} by asking
 * XState itself (`transition()`) what every event does in every state, once.
 *
 * It refuses what a table cannot represent faithfully: nested or parallel
 * states, guards (their answer would depend on data), and more than one `after`
 * transition per state.
 *
 * @example
 * ```ts
 * const seats = compileLifecycle<SeatState, SeatEvent['type']>(seatMachine, ['available', 'held', 'paid']);
 * seats.next('available', 'HOLD'); // 'held'
 * seats.next('held', 'timeout');   // 'available'
 * seats.next('paid', 'HOLD');      // undefined: a paid seat is never held again
 * ```
 */
export function compileLifecycle<S extends string, E extends string>(
  machine: AnyStateMachine,
  states: readonly S[],
): Lifecycle<S, E> {
  const root = machine.root;
  const declared = new Set<string>(states);
  const actual = Object.keys(root.states);
  if (actual.length !== declared.size || !actual.every((key) => declared.has(key))) {
    throw new TypeError(
      `machine "${machine.id}" has states [${actual.join(', ')}], expected [${states.join(', ')}]`,
    );
  }

  const table = new Map<string, Map<string, S>>();
  const timers = new Map<string, string>();
  const delays = new Map<string, number>();
  const finals = new Set<string>();
  const initialValue = machine.config.initial;

  for (const state of states) {
    const node = root.states[state]!;
    if (node.type !== 'atomic' && node.type !== 'final') {
      throw new TypeError(
        `state "${state}" of "${machine.id}" is ${node.type}; only flat machines compile`,
      );
    }
    if (node.type === 'final') finals.add(state);
    for (const candidates of node.transitions.values()) {
      for (const candidate of candidates) {
        if (candidate.guard)
          throw new TypeError(
            `"${machine.id}" guards "${candidate.eventType}" in "${state}"; guards do not compile`,
          );
      }
    }
    if (node.after.length > 1)
      throw new TypeError(`state "${state}" of "${machine.id}" has more than one after transition`);

    const row = new Map<string, S>();
    const afterEvent = node.after[0]?.eventType;
    const context =
      typeof machine.config.context === 'function' ? {} : (machine.config.context ?? {});
    const snapshot = machine.resolveState({ value: state, context });
    for (const type of machine.events) {
      const event = { type };
      if (!snapshot.can(event)) continue;
      const [nextSnapshot] = transition(machine, snapshot, event);
      row.set(type === afterEvent ? TIMEOUT : type, nextSnapshot.value as S);
    }
    if (afterEvent !== undefined) {
      const delay = node.after[0]!.delay;
      timers.set(state, String(delay));
      const provided =
        typeof delay === 'string'
          ? (machine.implementations.delays as Record<string, unknown>)[delay]
          : delay;
      if (typeof provided === 'number') delays.set(state, provided);
    }
    table.set(state, row);
  }

  if (typeof initialValue !== 'string' || !declared.has(initialValue)) {
    throw new TypeError(`machine "${machine.id}" has no flat initial state`);
  }

  return {
    id: machine.id,
    initial: initialValue as S,
    states,
    next: (state, event) => table.get(state)?.get(event),
    timerOf: (state) => timers.get(state),
    delayOf: (state) => delays.get(state),
    isFinal: (state) => finals.has(state),
  };
}
