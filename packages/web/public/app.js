// The usher page: join → wait (live, Server-Sent Events) → concert → date → seat → hold → charge → pay.
// Plain JavaScript in the browser, no build step; every call is the public REST API.

const app = document.getElementById('app');
const problemBox = document.getElementById('problem');
const session = {
  get token() {
    return sessionStorage.getItem('usher.token');
  },
  get userId() {
    return sessionStorage.getItem('usher.userId');
  },
  save(token, userId) {
    sessionStorage.setItem('usher.token', token);
    sessionStorage.setItem('usher.userId', userId);
  },
  /** When the turn ends (server time, ms), while the token is active; `undefined` otherwise. */
  get turnEndsAt() {
    return Number(sessionStorage.getItem('usher.turnEndsAt')) || undefined;
  },
  /** Keeps the end of an active token's turn (`expiresAt`); any other token, or none, ends it. */
  turn(token) {
    if (token?.status === 'active')
      sessionStorage.setItem('usher.turnEndsAt', String(Date.parse(token.expiresAt)));
    else sessionStorage.removeItem('usher.turnEndsAt');
  },
  /** A hold keeps the turn going until it ends (a user is never locked out of paying). */
  holdUntil(iso) {
    const ends = this.turnEndsAt;
    if (ends !== undefined && Date.parse(iso) > ends)
      sessionStorage.setItem('usher.turnEndsAt', String(Date.parse(iso)));
  },
  /** The wallet's balance as last answered, shown when it cannot be asked (the turn ended after a payment). */
  get balance() {
    const kept = sessionStorage.getItem('usher.balance');
    return kept === null ? undefined : Number(kept);
  },
  set balance(value) {
    sessionStorage.setItem('usher.balance', String(value));
  },
  /** Forgets the token and its turn; `everything` forgets the user too. */
  clear({ everything = true } = {}) {
    for (const key of ['token', 'turnEndsAt', ...(everything ? ['userId', 'balance'] : [])])
      sessionStorage.removeItem(`usher.${key}`);
  },
};

/**
 * A pass for another site (SPEC §12). A site that stands behind this waiting
 * room sends its visitors here with `?room=…&return=<its URL>`; once admitted,
 * the visitor goes back there with the pass (`usher_pass=`), which the site
 * verifies on its own. Only to an origin the box office lists
 * (`GET /pass/return-origins`, the server's PASS_RETURN_ORIGINS): never an open redirect.
 */
const passReturn = {
  /** Where to go back to once admitted, if a site sent the visitor. */
  get url() {
    return sessionStorage.getItem('usher.return') ?? undefined;
  },
  /** The room the site asked for. */
  get room() {
    return sessionStorage.getItem('usher.room') ?? 'default';
  },
  /** Reads `?return=` and `?room=` (then takes them off the address); keeps the return if its origin is allowed. */
  async read() {
    const params = new URLSearchParams(location.search);
    const to = params.get('return');
    if (to === null) return;
    history.replaceState(history.state, '', location.pathname + location.hash);
    sessionStorage.removeItem('usher.return');
    let target;
    try {
      target = new URL(to);
    } catch {
      target = undefined;
    }
    const { origins } = await call('GET', '/pass/return-origins').catch(() => ({ origins: [] }));
    if (target === undefined || !origins.includes(target.origin)) {
      showProblem(
        new Problem(
          {
            title: 'Not sent back',
            detail: `this box office does not send visitors back to ${target?.origin ?? 'that address'}; you can still buy tickets here`,
            code: 'RETURN_NOT_ALLOWED',
          },
          400,
        ),
      );
      return;
    }
    sessionStorage.setItem('usher.return', target.href);
    sessionStorage.setItem('usher.room', params.get('room') || 'default');
  },
  /** A line saying where the visitor goes once admitted, or nothing. */
  note() {
    const to = this.url;
    if (to === undefined) return null;
    return el(
      'p',
      { class: 'small muted', 'data-testid': 'return-to' },
      `When it is your turn you go back to ${new URL(to).host} with your pass (room ${this.room}).`,
    );
  },
  /** Admitted, with a pass, and a site to go back to: there, with the pass; true when leaving. */
  leave(token) {
    const to = this.url;
    // Only with a pass of the room the site asked for (a token of another room: join that room first).
    if (to === undefined || token?.status !== 'active' || !token.pass || token.room !== this.room)
      return false;
    sessionStorage.removeItem('usher.return');
    const url = new URL(to);
    url.searchParams.set('usher_pass', token.pass);
    render(
      notice(
        'returning',
        'It is your turn',
        `Taking you back to ${url.host}…`,
        el('p', { class: 'muted' }, 'Your pass goes with you.'),
      ),
    );
    location.assign(url.href);
    return true;
  },
};

/** What to do next, in plain words, for the API's stable error codes. */
const advice = {
  TOKEN_INVALID: 'Your place in line has expired. Join again to get a new one.',
  TOKEN_MISSING: 'Join the line first.',
  TOKEN_NOT_ACTIVE: 'It is not your turn yet. This page will move on by itself.',
  SEAT_UNAVAILABLE: 'Someone else got this seat first. Pick another one.',
  HOLD_LIMIT_REACHED: 'You are holding as many seats as you may. Pay for or cancel one first.',
  HOLD_EXPIRED: 'Your hold ran out of time and the seat went back on sale.',
  INSUFFICIENT_BALANCE: 'Top up your wallet, then pay again.',
  BALANCE_LIMIT: 'Your wallet cannot hold that much.',
  ALREADY_PAID: 'This seat is already yours.',
  SEATS_UNAVAILABLE:
    'Not that many seats are free together. Try fewer seats or another category, or pick seats on the map.',
  CATEGORY_NOT_FOUND: 'That category is not sold for this date. Pick another one.',
  TICKET_LIMIT_REACHED:
    'You have as many seats of this date as one person may buy. Pay for or cancel a hold first.',
  EXTENSION_LIMIT: 'This hold cannot be extended again. Pay before the time runs out.',
  VALIDATION_FAILED: 'Please check what you typed.',
  SHUTTING_DOWN: 'The box office is restarting. Try again in a few seconds.',
  UNAVAILABLE: 'The box office cannot take orders right now. Try again in a few seconds.',
  RATE_LIMITED: 'Too many people joined from your network just now. Wait a moment, then try again.',
  CHALLENGE_FAILED: 'The check before joining did not pass. Try again.',
  REFUND_CLOSED: 'Refunds close a day before the show. You can still give the ticket to someone.',
  TICKET_VOID: 'This ticket was already refunded or given away.',
  ALREADY_CHECKED_IN: 'This ticket was used at the door already.',
  TICKET_NOT_FOUND: 'This ticket is not yours (any more).',
  RECEIVER_TICKET_LIMIT: 'They already have as many tickets of this date as one person may have.',
  SEATS_AVAILABLE: 'Seats came back on sale: pick one on the map.',
  WAITLIST_JOINED: 'You are already on the waitlist of this date.',
  WAITLIST_NOT_FOUND: 'You are no longer on the waitlist of this date.',
};

/** An RFC 9457 problem answered by the API. */
class Problem extends Error {
  constructor(body, status) {
    super(body?.detail ?? `The server answered ${status}`);
    this.title = body?.title ?? 'Something went wrong';
    this.code = body?.code ?? 'UNKNOWN';
    this.status = status;
    /** `VALIDATION_FAILED`: what is wrong, field by field (`[{ path, message }]`). */
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
  }
}

/**
 * How far the server's clock is ahead of this device's, in ms, from the `Date`
 * header of its answers (whole seconds, so only a device clock off by more than
 * two seconds is corrected): countdowns count in the server's time.
 */
let serverOffset = 0;
const serverNow = () => Date.now() + serverOffset;

/**
 * The last answer to each read that carried an `ETag` (the seat list, the dates): asked again with
 * `If-None-Match`, a `304` means it is still the answer. The browser's own cache is bypassed
 * (`no-store`), so a list the user just changed by a hold is always asked for.
 */
const validated = new Map();

async function call(method, path, body, headers = {}) {
  const sent = Date.now();
  const known = method === 'GET' ? validated.get(path) : undefined;
  const response = await fetch(path, {
    method,
    cache: 'no-store',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(session.token ? { authorization: `Bearer ${session.token}` } : {}),
      ...(known ? { 'if-none-match': known.etag } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const date = Date.parse(response.headers.get('date') ?? '');
  if (Number.isFinite(date)) {
    const offset = date + 500 - (sent + Date.now()) / 2;
    serverOffset = Math.abs(offset) > 2_000 ? offset : 0;
  }
  if (response.status === 304 && known) return known.data;
  const data = await response.json().catch(() => undefined);
  const etag = response.headers.get('etag');
  if (method === 'GET' && response.ok && etag) {
    // A few paths at most (the dates of a concert, the seats of a date): bounded all the same.
    if (validated.size >= 50) validated.clear();
    validated.set(path, { etag, data });
  }
  if (!response.ok) throw new Problem(data, response.status);
  return data;
}

/** What the user can do about a refusal, as a button in the message. */
const actions = {
  HOLD_LIMIT_REACHED: ['See and cancel my holds', () => go('mine')],
  TICKET_LIMIT_REACHED: ['See and cancel my holds', () => go('mine')],
};

/**
 * Shows a problem in plain words; an expired token sends the user back to the
 * start. A validation refusal shows `plain` (or the advice), never the
 * validator's wording ("body.userId: Too small…").
 */
function showProblem(error, plain) {
  const problem =
    error instanceof Problem
      ? error
      : new Problem({ title: 'Connection problem', detail: String(error.message ?? error) }, 0);
  const validation = problem.code === 'VALIDATION_FAILED';
  const action = actions[problem.code];
  fill(
    problemBox,
    el('strong', {}, validation ? 'Please check what you typed' : problem.title),
    validation
      ? plain
        ? el('span', {}, ` — ${plain}`)
        : null
      : el('span', {}, ` — ${problem.message}`),
    !validation && advice[problem.code] ? el('p', {}, advice[problem.code]) : null,
    action
      ? el(
          'button',
          {
            class: 'action',
            'data-testid': 'problem-action',
            onclick: () => {
              clearProblem();
              action[1]();
            },
          },
          action[0],
        )
      : null,
    el(
      'button',
      {
        class: 'link',
        onclick: () => (problemBox.hidden = true),
        'aria-label': 'Dismiss',
        'data-always': true,
      },
      '✕',
    ),
  );
  problemBox.dataset.code = problem.code;
  problemBox.hidden = false;
  if (problem.code === 'TOKEN_INVALID' || problem.code === 'TOKEN_MISSING') {
    // The turn is over (or the token unknown): a way back into the line as the same person.
    session.clear({ everything: !session.userId });
    go(session.userId ? 'ended' : 'join', {}, { replace: true });
  }
}

function clearProblem() {
  problemBox.hidden = true;
}

/** Nothing from a `cond ? … : null` child: `replaceChildren` would show `null` as text. */
const present = (child) => child !== null && child !== undefined && child !== false;

/** Replaces a node's children, leaving out empty ones. */
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter(present));
}

/** A tiny DOM builder: text is always text, never HTML. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  const always = attributes['data-always'] === true;
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on'))
      node.addEventListener(
        name.slice(2),
        (name === 'onclick' || name === 'onsubmit') && !always
          ? (event) => act(event, value)
          : value,
      );
    else if (value === true) node.setAttribute(name, '');
    else if (value !== false && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.flat().filter(present));
  return node;
}

const activity = document.getElementById('activity');
/** The control whose action is in flight: until it is answered, every other click is ignored. */
let inFlight;

/**
 * Runs a click's or a form's action, one at a time: while one is in flight the
 * clicked control is marked busy, a line says what is going on (its
 * `data-busy`, or "Loading…"), and any other click or submit is ignored, so a
 * second tap on a slow network does nothing twice.
 */
async function act(event, handler) {
  const control =
    event.type === 'submit' ? (event.submitter ?? event.currentTarget) : event.currentTarget;
  if (inFlight) {
    event.preventDefault();
    event.stopImmediatePropagation();
    return;
  }
  inFlight = control;
  const started = setTimeout(() => {
    activity.textContent = control.dataset.busy ?? 'Loading…';
    activity.hidden = false;
  }, 100);
  control.classList.add('busy');
  control.setAttribute('aria-busy', 'true');
  document.body.classList.add('acting');
  try {
    await handler(event);
  } catch (error) {
    showProblem(error);
  } finally {
    clearTimeout(started);
    inFlight = undefined;
    activity.hidden = true;
    control.classList.remove('busy');
    control.removeAttribute('aria-busy');
    document.body.classList.remove('acting');
  }
}

const won = (amount) => `₩${amount.toLocaleString('en')}`;
/** The venue's time zone as the ISO string's offset says, e.g. `GMT+9` (Intl's short name), or `UTC+05:30`. */
function zoneOf(iso) {
  const offset = iso.slice(19).replace(/^\.\d+/, '');
  if (offset === '' || offset === 'Z') return 'UTC';
  const [, sign, hours, minutes] = /^([+-])(\d\d):?(\d\d)$/.exec(offset) ?? [];
  if (sign === undefined) return '';
  if (minutes !== '00') return `UTC${sign}${hours}:${minutes}`;
  // Etc/GMT zones count the other way round: Etc/GMT-9 is nine hours ahead.
  const zone = `Etc/GMT${sign === '+' ? '-' : '+'}${Number(hours)}`;
  try {
    return (
      new Intl.DateTimeFormat('en', { timeZone: zone, timeZoneName: 'short' })
        .formatToParts(0)
        .find((part) => part.type === 'timeZoneName')?.value ?? ''
    );
  } catch {
    return `UTC${sign}${Number(hours)}`;
  }
}

/**
 * Every time of day on the page is in the visitor's own format (their locale: `19:00` or
 * `7:00 PM`), never one beside the other; `zone` names the time zone.
 */
const clock = { hour: 'numeric', minute: '2-digit' };
const day = { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' };

/** A concert's time as the venue's clock shows it (the offset in the ISO string), wherever the browser is, with the zone named. */
const when = (iso) =>
  `${new Date(`${iso.slice(0, 19)}Z`).toLocaleString(undefined, {
    ...day,
    ...clock,
    timeZone: 'UTC',
  })} ${zoneOf(iso)}`.trim();
const duration = (seconds) =>
  seconds >= 3600
    ? `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
    : `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;
const roughly = (seconds) =>
  seconds < 60
    ? 'less than a minute'
    : seconds < 3600
      ? `about ${Math.round(seconds / 60)} min`
      : `about ${duration(seconds)}`;

/** What the screen now shown must stop (timers, streams) when another replaces it. */
let leave = () => undefined;
/** On a date's waitlist, its stream open: the turn's end does not take the user away (an offer is theirs with any known token). */
let onWaitlist = false;
/** The step being gone to ({@link go}): it enters history when its screen is drawn. */
let pending;

/**
 * Draws a screen (its data is in, it is ready) in place of the one shown: only
 * now does a step gone to enter history (the URL) and the old screen stop.
 */
function render(...children) {
  if (pending) {
    const { state, replace } = pending;
    pending = undefined;
    if (replace) history.replaceState(state, '', `#${state.view}`);
    else history.pushState(state, '', `#${state.view}`);
    document.title = `${titles[state.view] ?? 'usher'} · usher`;
  }
  leave();
  leave = () => undefined;
  window.scrollTo(0, 0);
  fill(app, ...children);
  tickTurn();
}

/** Runs a screen: it asks the API what it shows, then {@link render}s it; a refusal keeps the screen and URL as they were. */
async function show(screen, ...args) {
  try {
    const stop = await screen(...args);
    if (stop) leave = stop;
  } catch (error) {
    pending = undefined;
    showProblem(error);
  }
}

/**
 * The page's steps, each a history entry (`pushState`), so Back stays in the
 * page and a reload comes back to the same step: line, concerts, dates, seats,
 * hold, ticket, and "my holds and tickets". What a step needs (the concert,
 * the date, the reservation) is in the entry; a hold is looked up again from
 * the API (`GET /reservations`), since it may have ended meanwhile.
 */
const views = {
  join: () => show(join),
  line: () => show(waiting),
  concerts: () => show(concerts),
  dates: ({ concert }) => show(dates, concert),
  seats: ({ concert, schedule }) => show(seats, concert, schedule),
  hold: ({ concert, schedule, reservation }) => show(checkout, concert, schedule, reservation),
  ticket: ({ concert, schedule, reservation, payment }) =>
    show(confirmed, concert, schedule, reservation, payment),
  mine: () => show(mine),
  tickets: () => show(myTickets),
  soldout: () => show(soldOut),
  ended: () => show(turnEnded),
};
const titles = {
  join: 'Join',
  line: 'In line',
  concerts: 'Concerts',
  dates: 'Dates',
  seats: 'Seats',
  hold: 'Your hold',
  ticket: 'Your ticket',
  mine: 'My holds and tickets',
  tickets: 'My tickets',
  soldout: 'Sold out',
  ended: 'Your turn ended',
};

/** A token that ended because nothing is left to sell (`reason: "sold_out"`). */
const soldOutToken = (token) => token?.status === 'expired' && token.reason === 'sold_out';

/**
 * Goes to a step: a new history entry, or (`replace`) in place of this one, once
 * its screen is drawn (a slow answer leaves the screen and URL as they are,
 * with the click shown in flight). Resolves then.
 */
function go(view, data = {}, { replace = false } = {}) {
  pending = { state: { view, data }, replace };
  return views[view](data);
}

window.addEventListener('popstate', (event) => {
  clearProblem();
  restore(event.state);
});

/**
 * Shows a step kept in history (Back, Forward, reload), checked against the
 * API: without a token, the start; a hold that ended, the user's holds and
 * tickets; a step that needs an active turn while the token waits, the line.
 */
async function restore(state) {
  const view = state?.view;
  if (view === 'soldout') return views.soldout();
  if (view === 'ended' && session.userId) return views.ended();
  if (!session.token) return go('join', {}, { replace: true });
  if (view === 'ticket' || view === 'mine' || view === 'tickets') return views[view](state.data);
  if (view === 'hold') {
    try {
      const { reservations } = await call('GET', '/reservations?status=held');
      const reservation = reservations.find((r) => r.id === state.data.reservation.id);
      if (reservation) return views.hold({ ...state.data, reservation });
      showProblem(
        new Problem(
          {
            title: 'Hold ended',
            detail: `${seatNames(seatsOf(state.data.reservation).map((seat) => seat.seatNo)).toLowerCase()} no longer held for you`,
            code: 'HOLD_EXPIRED',
          },
          409,
        ),
      );
      return go('mine', {}, { replace: true });
    } catch (error) {
      return showProblem(error);
    }
  }
  try {
    const token = await call('GET', '/queue/tokens/current');
    session.turn(token);
    if (passReturn.leave(token)) return;
    // A site sent the visitor for a room other than their token's: join that one under the same name.
    if (passReturn.url !== undefined && token.room !== passReturn.room && session.userId)
      return await enter(session.userId);
    if (soldOutToken(token)) return go('soldout', {}, { replace: true });
    if (token.status !== 'active') return go('line', {}, { replace: true });
    if (view && view !== 'join' && view !== 'line' && views[view]) return views[view](state.data);
    go('concerts', {}, { replace: true });
  } catch (error) {
    showProblem(error);
  }
}

/** Dates seen while browsing, by id: "my holds and tickets" names a reservation's concert and date even after the turn ended. */
const known = {
  get all() {
    try {
      return JSON.parse(localStorage.getItem('usher.dates') ?? '{}');
    } catch {
      return {};
    }
  },
  remember(concert, schedule) {
    const all = known.all;
    all[schedule.id] = { concert, schedule };
    try {
      localStorage.setItem('usher.dates', JSON.stringify(all));
    } catch {
      /* full or disabled: names are a nicety */
    }
  },
  of(scheduleId) {
    return known.all[scheduleId];
  },
};

/** Shows who is here and their wallet in the header. */
function showWallet(balance) {
  const who = document.getElementById('who');
  who.hidden = !session.userId;
  document.getElementById('who-name').textContent = session.userId ?? '';
  if (balance !== undefined) session.balance = balance;
  document.getElementById('wallet').textContent =
    session.balance === undefined ? '' : won(session.balance);
}

/**
 * The wallet, asked of the API while the turn lasts (the balance routes need an
 * active token); after it (a payment ends the turn) the last balance answered
 * stays in the header.
 */
async function refreshWallet() {
  showWallet();
  if (!session.userId || session.turnEndsAt === undefined) return session.balance;
  try {
    const { balance } = await call('GET', `/users/${encodeURIComponent(session.userId)}/balance`);
    showWallet(balance);
  } catch {
    /* the last balance known stays */
  }
  return session.balance;
}

// The turn: a clock in the header on every screen after admission, and a way back in when it ends.

const turnClock = document.getElementById('turn');

/** Four times a second: the time left of the turn, or, once it is over, the screen that says so. */
function tickTurn() {
  const ends = session.turnEndsAt;
  turnClock.hidden = ends === undefined;
  if (ends === undefined) return;
  const left = (ends - serverNow()) / 1000;
  turnClock.textContent = `Your turn: ${countdownText(left)} left`;
  turnClock.classList.toggle('urgent', left < 60);
  if (left > 0) return;
  session.turn(undefined);
  turnClock.hidden = true;
  if (onWaitlist) return;
  go('ended', {}, { replace: true });
}
setInterval(tickTurn, 250);

/**
 * Joins the line as `userId` (the name typed, or the user already here): a
 * proof of work first when the box office asks for one (`report` shows its
 * progress), then the line or, when it is the user's turn at once, the concerts.
 */
async function enter(userId, report = () => undefined) {
  // A site's room is its concert's (SPEC §12): join that room's line.
  const room = passReturn.room;
  const body = room === 'default' ? { userId } : { userId, concertId: room };
  const token = await call('POST', '/queue/tokens', body).catch(async (error) => {
    // The box office wants a proof of work first: solve one, then join with it.
    if (error.code !== 'CHALLENGE_FAILED') throw error;
    const proof = await proofOfWork(report);
    return call('POST', '/queue/tokens', body, proof);
  });
  if (soldOutToken(token)) return go('soldout');
  if (token.userId !== session.userId) session.clear();
  session.save(token.token, token.userId);
  session.turn(token);
  if (passReturn.leave(token)) return;
  return go(token.status === 'active' ? 'concerts' : 'line');
}

/** A card that says where things stand: a small line above, a heading, then the rest. */
const notice = (testId, eyebrow, heading, ...rest) =>
  el(
    'section',
    { class: 'card center narrow', 'data-testid': testId },
    el('p', { class: 'eyebrow' }, eyebrow),
    el('h1', {}, heading),
    ...rest,
  );

/** The turn is over: said plainly, with the way back into the line as the same person. */
function turnEnded() {
  session.turn(undefined);
  showWallet();
  render(
    notice(
      'turn-ended',
      'Time is up',
      'Your turn has ended',
      el(
        'p',
        {},
        'Each turn lasts a set time so that everyone in line gets one. Seats you paid for are yours; join the line again for another turn.',
      ),
      el(
        'button',
        {
          class: 'primary',
          'data-testid': 'rejoin',
          'data-busy': 'Joining the line…',
          onclick: () => enter(session.userId),
        },
        `Join the line again as ${session.userId}`,
      ),
    ),
  );
}

// Screens

function join() {
  document.getElementById('who').hidden = true;
  const input = el('input', {
    id: 'name',
    name: 'name',
    autocomplete: 'nickname',
    required: true,
    maxlength: 64,
    placeholder: 'e.g. minji',
    'data-testid': 'join-name',
  });
  const plain = 'Type your name (up to 64 characters) to join the line.';
  const button = el(
    'button',
    {
      type: 'submit',
      class: 'primary',
      'data-testid': 'join-button',
      'data-busy': 'Joining the line…',
    },
    'Join the line',
  );
  const progress = el('p', {
    class: 'muted small',
    'data-testid': 'pow-progress',
    role: 'status',
    hidden: true,
  });
  render(
    el(
      'section',
      { class: 'card hero' },
      el('h1', {}, 'Concert tickets'),
      el(
        'p',
        { class: 'muted' },
        'Everyone gets a fair place in line. When it is your turn, you have 10 minutes to pick a seat, and 5 minutes to pay for it.',
      ),
      passReturn.note(),
      el(
        'form',
        {
          class: 'stack',
          novalidate: true,
          onsubmit: async (event) => {
            event.preventDefault();
            clearProblem();
            // One spelling per name: the API refuses a user id that is not NFC (a decomposed é or 한).
            const name = input.value.trim().normalize('NFC');
            if (name === '')
              return showProblem(new Problem({ code: 'VALIDATION_FAILED' }, 400), plain);
            button.disabled = true;
            try {
              await enter(name, (text) => {
                progress.textContent = text;
                progress.hidden = false;
              });
            } catch (error) {
              showProblem(error, plain);
            } finally {
              button.disabled = false;
              progress.hidden = true;
            }
          },
        },
        el('label', { for: 'name' }, 'Your name'),
        input,
        button,
        progress,
      ),
    ),
  );
  input.focus();
}

/**
 * A proof of work (`GET /queue/challenge`, when joining answered
 * `CHALLENGE_FAILED`), solved in a Web Worker so the page stays responsive:
 * the `X-Challenge` header to join with. `report` gets progress text.
 */
async function proofOfWork(report) {
  const challenge = await call('GET', '/queue/challenge');
  report('Checking your browser before you join…');
  const worker = new Worker('/pow-worker.js');
  try {
    const number = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if ('number' in data) resolve(data.number);
        else
          report(
            `Checking your browser before you join… ${Math.min(99, Math.floor((100 * data.tried) / (challenge.maxnumber + 1)))}%`,
          );
      };
      worker.onerror = () =>
        reject(
          new Problem(
            {
              title: 'Your browser could not join',
              detail: 'the check before joining failed to run',
            },
            0,
          ),
        );
      worker.postMessage({
        challenge: challenge.challenge,
        salt: challenge.salt,
        max: challenge.maxnumber,
      });
    });
    if (number === null)
      throw new Problem(
        {
          title: 'Your browser could not join',
          detail: 'the check before joining found no answer; try again',
        },
        0,
      );
    const { algorithm, salt, signature } = challenge;
    return {
      'x-challenge': btoa(
        JSON.stringify({ algorithm, challenge: challenge.challenge, number, salt, signature }),
      ),
    };
  } finally {
    worker.terminate();
  }
}

/** A countdown: `0:42`, `1:02:07`, or `3 d 4 h` beyond a day. */
function countdownText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s >= 86_400) return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  const mmss = `${String(Math.floor((s % 3600) / 60)).padStart(s >= 3600 ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss;
}

/** An instant in this device's time zone: `14:05 GMT+9`, with seconds when it has any, and the day when it is not today. */
function localTime(ms) {
  const at = new Date(ms);
  const time = at.toLocaleTimeString(undefined, {
    ...clock,
    ...(at.getSeconds() ? { second: '2-digit' } : {}),
    timeZoneName: 'short',
  });
  if (at.toDateString() === new Date(serverNow()).toDateString()) return time;
  return `${at.toLocaleDateString(undefined, day)}, ${time}`;
}

/**
 * In line: the place, live (Server-Sent Events). Before the sale opens the
 * token has no place yet (`position: null`) but says when it opens
 * (`opensAt`): a countdown to it, counted here, until the update at the
 * opening brings the place. The server does not push a moved opening: once
 * the countdown is over without a place, the page asks the API every 5 s.
 * A token ended sold out shows the sold-out screen; everything stops.
 */
function waiting() {
  const position = el('div', { class: 'position', 'data-testid': 'position' }, '…');
  const wait = el('p', { class: 'muted', 'data-testid': 'wait' }, 'Finding your place…');
  const bar = el('div', { class: 'progress', 'data-testid': 'progress' }, el('span'));
  const place = el('div', {}, position, el('p', {}, 'your place in line'), bar, wait);
  const countdown = el('div', {
    class: 'position',
    'data-testid': 'opens-countdown',
    role: 'timer',
  });
  const opensAtLine = el('p', { 'data-testid': 'opens-at' });
  const opening = el(
    'div',
    { 'data-testid': 'opening', hidden: true },
    countdown,
    el('p', {}, 'until the sale opens'),
    el('div', { class: 'countdown' }, opensAtLine),
    el(
      'p',
      { class: 'small muted' },
      'Everyone who joins before then gets a place in line when it opens. Your place shows here at that moment.',
    ),
  );
  render(
    el(
      'section',
      { class: 'card center narrow' },
      el('p', { class: 'eyebrow' }, 'You are in line'),
      opening,
      place,
      el(
        'p',
        { class: 'small muted' },
        'Keep this page open: it moves on by itself when it is your turn.',
      ),
      passReturn.note(),
    ),
  );
  let first;
  let timer;
  let opensAt;
  let nextCheck;
  let gone = false;
  const stopCountdown = () => {
    clearInterval(timer);
    timer = undefined;
  };
  /** The countdown, four times a second. Past the opening with no place yet, it asks the API now and then. */
  const countdownTick = () => {
    const left = (opensAt - serverNow()) / 1000;
    countdown.textContent = countdownText(left);
    // Hours and seconds (10:02:17) in the big type would not fit a phone.
    countdown.classList.toggle('long', countdown.textContent.length > 5);
    opensAtLine.textContent =
      left > 0
        ? `The sale opens at ${localTime(opensAt)}`
        : 'The sale is opening now: your place in line shows in a moment.';
    if (left > 0) return;
    // The opening's update is normally on its way; if it is late (or the operator moved the opening), ask, spread out over a few seconds.
    nextCheck ??= serverNow() + 3_000 + Math.random() * 2_000;
    if (serverNow() < nextCheck) return;
    nextCheck = serverNow() + 5_000;
    call('GET', '/queue/tokens/current').then(update, (error) => {
      if (gone) return;
      source.close();
      showProblem(error);
    });
  };
  /** Before the opening: when, and a countdown in seconds (the server sends nothing until the opening). */
  const showOpening = (at) => {
    opensAt = Date.parse(at);
    nextCheck = undefined;
    place.hidden = true;
    opening.hidden = false;
    first = undefined;
    countdownTick();
    timer ??= setInterval(countdownTick, 250);
  };
  const showPlace = (token) => {
    stopCountdown();
    opening.hidden = true;
    place.hidden = false;
    first ??= token.position;
    position.textContent = token.position.toLocaleString('en');
    wait.textContent = `Your turn in ${roughly(token.estimatedWaitSeconds)}`;
    // How far along the line has moved since the page first saw it: never full while still waiting.
    const moved = (first - token.position) / Math.max(1, first);
    bar.firstChild.style.width = `${Math.round(4 + 86 * Math.min(1, Math.max(0, moved)))}%`;
  };
  /** The token as the stream (or a question to the API) tells it. Only active or expired is final. */
  const update = (token) => {
    if (gone) return;
    if (token.status === 'active') {
      source.close();
      session.turn(token);
      if (passReturn.leave(token)) return;
      go('concerts', {}, { replace: true });
    } else if (soldOutToken(token)) {
      source.close();
      go('soldout', {}, { replace: true });
    } else if (token.status === 'expired') {
      void ask();
    } else if (token.position === null) {
      showOpening(token.opensAt);
    } else {
      showPlace(token);
    }
  };
  const source = new EventSource(
    `/queue/tokens/current/events?access_token=${encodeURIComponent(session.token)}`,
  );
  // Where the token stands, asked once, when the stream cannot go on.
  const ask = async () => {
    source.close();
    try {
      const token = await call('GET', '/queue/tokens/current');
      session.turn(token);
      if (!gone && passReturn.leave(token)) return;
      if (!gone)
        go(
          soldOutToken(token) ? 'soldout' : token.status === 'active' ? 'concerts' : 'line',
          {},
          { replace: true },
        );
    } catch (error) {
      if (!gone) showProblem(error);
    }
  };
  source.addEventListener('token', (event) => update(JSON.parse(event.data)));
  source.onerror = () => {
    // A stream that ended (the server ends them after a while, or when the
    // token's newer streams replace it) or broke: the browser reconnects by
    // itself after `retry`. Only a refused reconnect (an error answer) closes it.
    if (source.readyState === EventSource.CLOSED) void ask();
  };
  return () => {
    gone = true;
    source.close();
    stopCountdown();
  };
}

/** Everything is sold: the line closed, the token ended. Said plainly; nothing goes on in the background. */
function soldOut() {
  session.clear();
  document.getElementById('who').hidden = true;
  render(
    notice(
      'sold-out',
      'Sold out',
      'Every seat has been sold',
      el(
        'p',
        {},
        'There is nothing left to buy, so the line has closed. Nobody is kept waiting for a seat that is not there.',
      ),
      el(
        'p',
        { class: 'small muted' },
        'If more seats go on sale later, you can join the line again.',
      ),
      el(
        'button',
        { class: 'primary', 'data-testid': 'sold-out-back', onclick: () => go('join') },
        'Back to the start',
      ),
    ),
  );
}

/** The user's live holds and paid tickets, newest first; `[]` when they cannot be read. */
async function myReservations(status) {
  const { reservations } = await call('GET', `/reservations${status ? `?status=${status}` : ''}`);
  return reservations;
}

/** One reservation as a card: what, when, and what can be done with it. */
function reservationCard(reservation, onChange) {
  const place = known.of(reservation.scheduleId);
  const concert = place?.concert ?? { id: '', title: 'Concert' };
  const schedule = place?.schedule ?? { id: reservation.scheduleId, startsAt: '' };
  const held = reservation.status === 'held';
  const left = Math.max(0, (Date.parse(reservation.expiresAt) - Date.now()) / 1000);
  return el(
    'div',
    {
      class: `card mine-item ${held ? 'is-held' : 'is-paid'}`,
      'data-testid': `mine-${reservation.status}`,
    },
    el(
      'p',
      { class: 'eyebrow' },
      held ? `Held · about ${duration(Math.ceil(left))} left to pay` : 'Paid · your ticket',
    ),
    el(
      'strong',
      {},
      `${concert.title} · ${seatNames(seatsOf(reservation).map((seat) => seat.seatNo))}`,
    ),
    schedule.startsAt ? el('span', { class: 'muted' }, when(schedule.startsAt)) : null,
    el(
      'div',
      { class: 'row' },
      held
        ? [
            el(
              'button',
              { class: 'primary', onclick: () => go('hold', { concert, schedule, reservation }) },
              `Pay ${won(totalOf(reservation))}`,
            ),
            el(
              'button',
              {
                'data-testid': 'mine-cancel',
                onclick: async () => {
                  clearProblem();
                  try {
                    await call('DELETE', `/reservations/${encodeURIComponent(reservation.id)}`);
                  } catch (error) {
                    showProblem(error);
                  }
                  onChange();
                },
              },
              'Cancel this hold',
            ),
          ]
        : el(
            'button',
            { onclick: () => go('ticket', { concert, schedule, reservation }) },
            'Show ticket',
          ),
    ),
  );
}

/** "My holds and tickets": found again from the API after a reload or on another visit. */
async function mine() {
  const list = el('div', { class: 'list two' });
  async function refresh() {
    const reservations = await myReservations();
    fill(
      list,
      reservations.length === 0
        ? el('p', { class: 'card' }, 'No holds or tickets yet.')
        : reservations.map((r) => reservationCard(r, () => refresh().catch(showProblem))),
    );
  }
  await Promise.all([refresh(), refreshWallet()]);
  render(
    el('button', { class: 'link back', onclick: () => go('concerts') }, '← Concerts'),
    el('h1', {}, 'My holds and tickets'),
    el(
      'button',
      { class: 'link', 'data-testid': 'open-tickets', onclick: () => go('tickets') },
      'My tickets, with the codes for the door',
    ),
    list,
  );
}

/**
 * qrcode-generator's ES module (`/vendor/qrcode.mjs`, served from its package), loaded the first
 * time tickets are shown: the page draws each valid ticket's code as an SVG QR code, here.
 */
let qrLibrary;
const qrcodeLibrary = () =>
  (qrLibrary ??= import('/vendor/qrcode.mjs').catch((error) => {
    qrLibrary = undefined;
    throw error;
  }));

/**
 * A ticket's code as an SVG QR code (byte mode, error correction M, the smallest version that
 * fits, a quiet zone of four modules), drawn by the library and parsed as SVG (never as HTML).
 */
function qrSvg(library, text, label, id) {
  const qr = library.default(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const markup = qr.createSvgTag({
    cellSize: 4,
    margin: 16,
    scalable: true,
    title: { text: label, id: `qr-${id}` },
  });
  const svg = new DOMParser().parseFromString(markup, 'image/svg+xml').documentElement;
  return document.importNode(svg, true);
}

/** Whom this browser gave a ticket to, by ticket id (the API keeps the new ticket's id, not the name). */
const given = {
  get all() {
    try {
      return JSON.parse(localStorage.getItem('usher.given') ?? '{}');
    } catch {
      return {};
    }
  },
  remember(ticketId, userId) {
    const all = given.all;
    all[ticketId] = userId;
    try {
      localStorage.setItem('usher.given', JSON.stringify(all));
    } catch {
      /* full or disabled: a name is a nicety */
    }
  },
};

/** The refusals of a ticket that changed since the list was drawn (on another device, at the door). */
const changedElsewhere = new Set(['TICKET_VOID', 'ALREADY_CHECKED_IN', 'TICKET_NOT_FOUND']);

/** A ticket's status in words, with its time where it has one. */
function ticketStatus(ticket) {
  switch (ticket.status) {
    case 'valid':
      return 'Valid · show this code at the door';
    case 'checked_in':
      return `Checked in${ticket.checkedInAt ? ` at ${localTime(Date.parse(ticket.checkedInAt))}` : ''}`;
    case 'refunded':
      return `Refunded · ${won(ticket.price)} back to your wallet`;
    case 'transferred': {
      const to = given.all[ticket.id];
      return to ? `Transferred to ${to}` : 'Transferred to someone else';
    }
    default:
      return ticket.status;
  }
}

/**
 * The wallet after a refund of `amount`: asked of the API while the turn lasts (the balance routes
 * need an active token); after it, the last balance answered plus the refund (the refund's answer
 * is the ticket, whose price went back to the wallet).
 */
async function walletAfterRefund(amount) {
  if (session.userId && session.turnEndsAt !== undefined) return refreshWallet();
  if (session.balance !== undefined) showWallet(session.balance + amount);
  return session.balance;
}

/**
 * One ticket as a card: the concert, the date, the seat, the price, its status in words; a valid
 * one with its code as a QR code and the buttons to refund it or give it to someone, each with a
 * step to confirm. Each confirmed action sends its own `Idempotency-Key`, the same on a retry.
 * `changed(note)` redraws the list after an action, saying what happened.
 */
function ticketCard(ticket, library, changed) {
  // `library` is undefined when the QR code library could not be loaded.
  const place = known.of(ticket.scheduleId);
  const schedule = place?.schedule;
  const valid = ticket.status === 'valid';
  const seat = seatPlace(schedule, { seatNo: ticket.seatNo });
  const panel = el('div', { class: 'confirm', 'data-testid': 'ticket-confirm', hidden: true });
  const buttons = el('div', { class: 'row' });
  const close = () => {
    panel.hidden = true;
    buttons.hidden = false;
    refundKey = undefined;
  };
  /**
   * A refusal because the ticket changed elsewhere (refunded, given away or checked in on another
   * device, or no longer this user's) redraws the list as it is now; the reason stays shown.
   * Any other failure (the connection) keeps the confirmation open, and its key, for a retry.
   */
  const staleAfter = async (error) => {
    if (error instanceof Problem && changedElsewhere.has(error.code))
      await changed().catch(() => undefined);
  };
  /** The refund's key: made when the refund is confirmed, kept until it is answered, so a retry is the same refund. */
  let refundKey;
  const askRefund = () => {
    clearProblem();
    fill(
      panel,
      el('p', { class: 'question' }, `Refund ${won(ticket.price)}?`),
      el(
        'p',
        { class: 'small muted' },
        `The price goes back to your wallet, seat ${ticket.seatNo} goes back on sale and this code stops working at the door.`,
      ),
      el(
        'div',
        { class: 'row' },
        el(
          'button',
          {
            class: 'primary',
            'data-testid': 'confirm-refund',
            'data-busy': `Refunding ${won(ticket.price)}…`,
            onclick: async () => {
              clearProblem();
              refundKey ??= crypto.randomUUID();
              let refunded;
              try {
                refunded = await call(
                  'POST',
                  `/tickets/${encodeURIComponent(ticket.id)}/refund`,
                  undefined,
                  { 'idempotency-key': refundKey },
                );
              } catch (error) {
                await staleAfter(error);
                throw error;
              }
              refundKey = undefined;
              await walletAfterRefund(refunded.price);
              await changed(`Refunded: ${won(refunded.price)} is back in your wallet.`);
            },
          },
          `Yes, refund ${won(ticket.price)}`,
        ),
        el('button', { 'data-testid': 'cancel-confirm', onclick: close }, 'Keep it'),
      ),
    );
    buttons.hidden = true;
    panel.hidden = false;
  };
  /** The transfer's receiver and key: a new key for another receiver, the same on a retry. */
  let transfer;
  const askTransfer = () => {
    clearProblem();
    const plain = 'Type the user id of the person to give this ticket to.';
    const input = el('input', {
      id: `to-${ticket.id}`,
      required: true,
      maxlength: 64,
      autocomplete: 'off',
      placeholder: 'e.g. minji',
      'data-testid': 'transfer-to',
    });
    const send = el(
      'button',
      { type: 'submit', class: 'primary', 'data-testid': 'confirm-transfer' },
      'Give it away',
    );
    input.addEventListener('input', () => {
      const to = input.value.trim();
      send.textContent = to ? `Give seat ${ticket.seatNo} to ${to}` : 'Give it away';
    });
    fill(
      panel,
      el(
        'form',
        {
          class: 'stack',
          novalidate: true,
          onsubmit: async (event) => {
            event.preventDefault();
            clearProblem();
            const to = input.value.trim().normalize('NFC');
            if (to === '')
              return showProblem(new Problem({ code: 'VALIDATION_FAILED' }, 400), plain);
            if (transfer?.to !== to) transfer = { to, key: crypto.randomUUID() };
            send.dataset.busy = `Giving seat ${ticket.seatNo} to ${to}…`;
            try {
              await call(
                'POST',
                `/tickets/${encodeURIComponent(ticket.id)}/transfer`,
                { toUserId: to },
                { 'idempotency-key': transfer.key },
              );
            } catch (error) {
              // The receiver's limit, not the giver's: advice about the giver's holds would mislead.
              if (error.code === 'TICKET_LIMIT_REACHED') error.code = 'RECEIVER_TICKET_LIMIT';
              await staleAfter(error);
              return showProblem(error, plain);
            }
            transfer = undefined;
            given.remember(ticket.id, to);
            await changed(
              `Seat ${ticket.seatNo} is now ${to}'s: your code no longer works at the door.`,
            );
          },
        },
        el('label', { for: `to-${ticket.id}` }, 'Give this ticket to (their user id)'),
        input,
        el(
          'p',
          { class: 'small muted' },
          'They get a new code; this one stops working at the door. It cannot be undone.',
        ),
        el(
          'div',
          { class: 'row' },
          send,
          el(
            'button',
            { type: 'button', 'data-testid': 'cancel-confirm', onclick: close },
            'Cancel',
          ),
        ),
      ),
    );
    buttons.hidden = true;
    panel.hidden = false;
    input.focus();
  };
  if (valid)
    fill(
      buttons,
      el('button', { 'data-testid': 'ticket-refund', onclick: askRefund }, 'Refund'),
      el('button', { 'data-testid': 'ticket-transfer', onclick: askTransfer }, 'Transfer'),
    );
  return el(
    'article',
    {
      class: `card ticket-item is-${ticket.status}`,
      'data-testid': 'ticket',
      'data-status': ticket.status,
      'data-ticket-id': ticket.id,
    },
    el('p', { class: 'eyebrow', 'data-testid': 'ticket-status' }, ticketStatus(ticket)),
    el('strong', { class: 'ticket-title' }, place?.concert.title ?? ticket.concertId),
    schedule?.startsAt
      ? el('span', { class: 'muted', 'data-testid': 'ticket-date' }, when(schedule.startsAt))
      : el('span', { class: 'muted', 'data-testid': 'ticket-date' }, `Date ${ticket.scheduleId}`),
    el(
      'p',
      { class: 'ticket-seat' },
      el('span', { 'data-testid': 'ticket-seat' }, seat),
      el('span', { 'data-testid': 'ticket-price' }, won(ticket.price)),
    ),
    valid && library
      ? el(
          'div',
          { class: 'qr', 'data-testid': 'ticket-qr', 'data-code': ticket.code },
          qrSvg(library, ticket.code, `Ticket code, ${seat}`, ticket.id),
        )
      : null,
    // The code as text too: for a door that types it in, or when the QR code could not be drawn.
    valid
      ? el(
          'details',
          { class: 'code-text', open: library === undefined },
          el('summary', {}, library ? 'The code as text' : 'Your code for the door'),
          el('code', { 'data-testid': 'ticket-code' }, ticket.code),
        )
      : null,
    valid ? [buttons, panel] : null,
  );
}

/**
 * "My tickets" (`GET /tickets`): valid tickets first, each with its code as a QR code and the ways
 * to refund it or give it away; then the ones checked in, refunded or transferred, in words.
 */
async function myTickets() {
  const list = el('div', { class: 'list two tickets', 'data-testid': 'tickets-valid' });
  const past = el('div', { class: 'list two tickets', 'data-testid': 'tickets-past' });
  const pastTitle = el('h2', {}, 'Checked in, refunded or given away');
  const note = el('p', {
    class: 'note',
    role: 'status',
    'data-testid': 'tickets-note',
    hidden: true,
  });
  async function refresh(said) {
    // Without the QR code library (it did not load), the tickets and their codes as text all the same.
    const [{ tickets }, library] = await Promise.all([
      call('GET', '/tickets'),
      qrcodeLibrary().catch(() => undefined),
    ]);
    const changed = (text) => refresh(text);
    const valid = tickets.filter((ticket) => ticket.status === 'valid');
    const others = tickets.filter((ticket) => ticket.status !== 'valid');
    fill(
      list,
      valid.length === 0
        ? el('p', { class: 'card', 'data-testid': 'no-tickets' }, 'No valid tickets right now.')
        : valid.map((ticket) => ticketCard(ticket, library, changed)),
    );
    fill(
      past,
      others.map((ticket) => ticketCard(ticket, library, changed)),
    );
    pastTitle.hidden = past.hidden = others.length === 0;
    note.textContent = said ?? '';
    note.hidden = !said;
  }
  await Promise.all([refresh(), refreshWallet()]);
  render(
    el('button', { class: 'link back', onclick: () => go('concerts') }, '← Concerts'),
    el('h1', {}, 'My tickets'),
    note,
    list,
    pastTitle,
    past,
    el(
      'button',
      { class: 'link', 'data-testid': 'open-mine', onclick: () => go('mine') },
      'My holds and payments',
    ),
  );
}

async function concerts() {
  const [{ concerts: list }, reservations] = await Promise.all([
    call('GET', '/concerts'),
    myReservations().catch(() => []),
    refreshWallet(),
  ]);
  void limits();
  render(
    el(
      'div',
      { class: 'split' },
      el(
        'div',
        {},
        el('h1', {}, 'Pick a concert'),
        el(
          'div',
          { class: 'list' },
          list.map((concert) =>
            el(
              'button',
              {
                class: 'card choice',
                'data-testid': 'concert',
                onclick: () => go('dates', { concert }),
              },
              el('strong', {}, concert.title),
              concert.artist ? el('span', {}, concert.artist) : null,
              concert.venue ? el('span', { class: 'muted small' }, concert.venue) : null,
            ),
          ),
        ),
      ),
      el(
        'aside',
        { class: 'aside' },
        el('h2', {}, 'My holds and tickets'),
        reservations.length === 0
          ? el('p', { class: 'muted small' }, 'Seats you hold or paid for show here.')
          : el(
              'div',
              { class: 'list' },
              reservations
                .slice(0, 3)
                .map((r) => reservationCard(r, () => go('concerts', {}, { replace: true }))),
            ),
        el(
          'button',
          { class: 'link', 'data-testid': 'open-mine', onclick: () => go('mine') },
          'See all my holds and tickets',
        ),
        el(
          'button',
          { class: 'link', 'data-testid': 'open-tickets', onclick: () => go('tickets') },
          'My tickets',
        ),
      ),
    ),
  );
}

async function dates(concert) {
  const { schedules } = await call('GET', `/concerts/${encodeURIComponent(concert.id)}/schedules`);
  void limits();
  for (const schedule of schedules) known.remember(concert, schedule);
  render(
    el('button', { class: 'link back', onclick: () => go('concerts') }, '← Concerts'),
    el('h1', {}, concert.title),
    schedules.length === 0 ? el('p', { class: 'card' }, 'Sold out, every date. Sorry!') : null,
    el(
      'div',
      { class: 'list two' },
      schedules.map((schedule) =>
        el(
          'button',
          {
            class: 'card choice',
            'data-testid': 'date',
            onclick: () => go('seats', { concert, schedule }),
          },
          el('strong', {}, when(schedule.startsAt)),
          el(
            'span',
            { class: 'muted' },
            `${schedule.availableSeats} of ${schedule.totalSeats} seats left`,
          ),
        ),
      ),
    ),
  );
}

/** The seats of a reservation (`seats`, or its one seat for an answer from before orders). */
const seatsOf = (reservation) =>
  reservation.seats ?? [{ seatNo: reservation.seatNo, price: reservation.price }];
/** What paying for a reservation costs: every seat of it. */
const totalOf = (reservation) => reservation.amount ?? reservation.price;
/** `Seat 7`, or `Seats 7, 8, 9`. */
const seatNames = (seatNos) =>
  seatNos.length === 1 ? `Seat ${seatNos[0]}` : `Seats ${seatNos.join(', ')}`;
/** A seat's row when the date has rows (`seatsPerRow`): row 1 is nearest the stage. */
const rowOf = (schedule, seatNo) =>
  schedule?.seatsPerRow ? Math.ceil(seatNo / schedule.seatsPerRow) : undefined;
/** `Row 2 · Seat 14 · R`: where a seat is and what kind it is. */
const seatPlace = (schedule, seat) =>
  [
    rowOf(schedule, seat.seatNo) === undefined ? null : `Row ${rowOf(schedule, seat.seatNo)}`,
    `Seat ${seat.seatNo}`,
    seat.category ?? null,
  ]
    .filter(present)
    .join(' · ');

/**
 * How many seats one order may take and how long a hold may be extended (`GET /order-limits`),
 * asked once, early (the concerts screen starts it), so that the seat map does not wait for it.
 */
let orderLimits;
async function limits() {
  orderLimits ??= call('GET', '/order-limits').catch(() => {
    orderLimits = undefined;
  });
  return (
    (await orderLimits) ?? { maxSeatsPerOrder: 4, holdExtensions: 1, holdExtensionMs: 120_000 }
  );
}

/**
 * The seat map, row by row (nearest the stage first), each seat coloured by its
 * category. Tapping free seats picks them (up to `MAX_SEATS_PER_ORDER`), and
 * one button holds them all in one order; or the box office picks the best
 * seats together, of a category.
 */
async function seats(concert, schedule) {
  known.remember(concert, schedule);
  const { maxSeatsPerOrder } = await limits();
  const grid = el('div', { class: 'seats', role: 'group', 'aria-label': 'Seat map' });
  const legend = el('div', { class: 'legend' });
  const status = el('p', { class: 'muted small' });
  const tiers = new Map();
  /** The free seats picked, by number (their price and category). */
  const picked = new Map();
  let available = [];
  const summary = el('div', { class: 'picked', 'data-testid': 'picked' });
  const holdPicked = el(
    'button',
    { class: 'primary', 'data-testid': 'hold-picked', onclick: () => holdSeats() },
    'Hold',
  );
  const quantity = el(
    'select',
    { id: 'quantity', 'data-testid': 'best-quantity' },
    Array.from({ length: maxSeatsPerOrder }, (_, i) =>
      el(
        'option',
        { value: i + 1, selected: i + 1 === Math.min(2, maxSeatsPerOrder) },
        String(i + 1),
      ),
    ),
  );
  const category = el('select', { id: 'category', 'data-testid': 'best-category' });
  const best = el('button', {
    'data-testid': 'best-available',
    onclick: () => holdBest(),
  });
  const bestLabel = () => {
    const n = Number(quantity.value);
    best.textContent = n === 1 ? 'Best seat' : `Best ${n} together`;
    best.dataset.busy = `Finding the best ${n === 1 ? 'seat' : `${n} seats together`}…`;
  };
  quantity.addEventListener('change', () => {
    bestLabel();
    wanted = Number(quantity.value);
  });
  bestLabel();
  // Sold out (no seat for sale): the waitlist instead of the order, live from its event stream.
  const scheduleUrl = `/schedules/${encodeURIComponent(schedule.id)}`;
  const bestBox = el(
    'div',
    { class: 'best', role: 'group', 'aria-labelledby': 'best-title' },
    el('h2', { id: 'best-title' }, 'Or the best seats together'),
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'quantity', class: 'sr-only' }, 'How many seats'),
      quantity,
      el('label', { for: 'category', class: 'sr-only' }, 'Category'),
      category,
    ),
    best,
  );
  const seatsTitle = el('h2', {}, 'Your seats');
  const waitBox = el('div', { class: 'waitlist', 'data-testid': 'waitlist', hidden: true });
  /** How many seats the user was after (picked, or asked of the box office): the waitlist's default. */
  let wanted = Number(quantity.value);
  const waitQuantity = el('select', { id: 'wait-quantity', 'data-testid': 'waitlist-quantity' });
  /** The user's entry (`{ position, quantity, offered }`) while on the list; what the panel shows. */
  let entry;
  let checkedEntry = false;
  let stream;
  let drawn;
  const stopWatching = () => {
    stream?.close();
    stream = undefined;
  };
  /** The entry's stream: `waitlist` (the entry, `null` when gone) and `reservation` (a hold offered). */
  function watch() {
    if (stream) return;
    const source = (stream = new EventSource(
      `${scheduleUrl}/waitlist/me/events?access_token=${encodeURIComponent(session.token)}`,
    ));
    source.addEventListener('waitlist', (event) => {
      const data = JSON.parse(event.data);
      if (data === null) stopWatching();
      entry = data ?? undefined;
      showWaitlist();
    });
    source.addEventListener('reservation', (event) => {
      const reservation = JSON.parse(event.data);
      stopWatching();
      session.holdUntil(reservation.expiresAt);
      clearProblem();
      void go('hold', { concert, schedule, reservation });
    });
    source.onerror = () => {
      // A refused reconnect (the entry is gone): ask once where the user stands.
      if (source.readyState !== EventSource.CLOSED || stream !== source) return;
      stopWatching();
      readEntry().then(showWaitlist, showProblem);
    };
  }
  /** The user's entry as the API has it (`undefined`: not on the list), watched while there is one. */
  async function readEntry() {
    try {
      entry = await call('GET', `${scheduleUrl}/waitlist/me`);
      watch();
    } catch (error) {
      if (error.code !== 'WAITLIST_NOT_FOUND') throw error;
      entry = undefined;
    }
  }
  async function joinWaitlist() {
    clearProblem();
    try {
      entry = await call('POST', `${scheduleUrl}/waitlist`, {
        quantity: Number(waitQuantity.value),
      });
      watch();
    } catch (error) {
      showProblem(error);
      if (error.code === 'WAITLIST_JOINED') await readEntry().catch(() => undefined);
      // Seats came back (SEATS_AVAILABLE): the map shows them again.
      await refresh().catch(showProblem);
    }
    showWaitlist();
  }
  async function leaveWaitlist() {
    clearProblem();
    try {
      await call('DELETE', `${scheduleUrl}/waitlist/me`);
    } catch (error) {
      showProblem(error);
    }
    stopWatching();
    entry = undefined;
    await refresh().catch(showProblem);
  }
  /** Sold out or on the list: the waitlist panel in place of the order; else the order. */
  function showWaitlist() {
    const waiting = entry !== undefined;
    onWaitlist = waiting;
    const soldOutHere = available.length === 0;
    const panel = waiting || soldOutHere;
    for (const node of [seatsTitle, summary, holdPicked, bestBox]) node.hidden = panel;
    if (!panel) holdPicked.hidden = picked.size === 0;
    waitBox.hidden = !panel;
    const state = waiting ? `on ${entry.position} ${entry.quantity} ${entry.offered}` : 'off';
    if (!panel) drawn = undefined;
    if (!panel || state === drawn) return;
    drawn = state;
    if (waiting) {
      const left = entry.quantity - entry.offered;
      fill(
        waitBox,
        el('h2', {}, 'Sold out'),
        el(
          'p',
          { class: 'waitlist-position', 'data-testid': 'waitlist-position', 'aria-live': 'polite' },
          `You are number ${entry.position} on the waitlist`,
        ),
        el(
          'p',
          { class: 'muted small' },
          `For ${left === 1 ? '1 seat' : `${left} seats`}${entry.offered > 0 ? ` more (${entry.offered} offered so far)` : ''}. When seats come back they are held for you here, with the time to pay them. Keep this page open.`,
        ),
        el(
          'button',
          {
            'data-testid': 'waitlist-leave',
            'data-busy': 'Leaving the waitlist…',
            onclick: () => leaveWaitlist(),
          },
          'Leave the waitlist',
        ),
      );
    } else {
      fill(
        waitQuantity,
        Array.from({ length: maxSeatsPerOrder }, (_, i) =>
          el(
            'option',
            { value: i + 1, selected: i + 1 === Math.min(wanted, maxSeatsPerOrder) },
            i === 0 ? '1 seat' : `${i + 1} seats`,
          ),
        ),
      );
      fill(
        waitBox,
        el('h2', { 'data-testid': 'sold-out-date' }, 'Sold out'),
        el(
          'p',
          { class: 'muted small' },
          'Every seat of this date is taken. Join the waitlist: seats that come back (a hold that runs out or is released, a refund) are held for those waiting, in turn.',
        ),
        el(
          'div',
          { class: 'row' },
          el('label', { for: 'wait-quantity', class: 'sr-only' }, 'How many seats'),
          waitQuantity,
          el(
            'button',
            {
              class: 'primary',
              'data-testid': 'waitlist-join',
              'data-busy': 'Joining the waitlist…',
              onclick: () => joinWaitlist(),
            },
            'Join the waitlist',
          ),
        ),
      );
    }
  }
  /** What is picked, its total and the button that holds it. */
  function showPicked() {
    const list = [...picked.values()].sort((a, b) => a.seatNo - b.seatNo);
    const total = list.reduce((sum, seat) => sum + seat.price, 0);
    if (list.length > 0) wanted = list.length;
    fill(
      summary,
      list.length === 0
        ? el(
            'p',
            { class: 'muted small' },
            `Pick up to ${maxSeatsPerOrder} free seats on the map, then hold them together.`,
          )
        : el(
            'ul',
            { class: 'order-seats' },
            list.map((seat) =>
              el(
                'li',
                {},
                el('span', {}, seatPlace(schedule, seat)),
                el('span', {}, won(seat.price)),
              ),
            ),
          ),
    );
    holdPicked.hidden = list.length === 0;
    const names = seatNames(list.map((seat) => seat.seatNo));
    holdPicked.textContent =
      list.length === 1
        ? `Hold seat ${list[0].seatNo} · ${won(total)}`
        : `Hold ${list.length} seats · ${won(total)}`;
    holdPicked.dataset.busy = `Holding ${names.toLowerCase()}…`;
    for (const button of grid.querySelectorAll('.seat[data-seat]')) {
      const on = picked.has(Number(button.dataset.seat));
      button.classList.toggle('picked', on);
      button.setAttribute('aria-pressed', String(on));
    }
  }
  function toggle(seat) {
    clearProblem();
    if (picked.has(seat.seatNo)) picked.delete(seat.seatNo);
    else if (picked.size >= maxSeatsPerOrder)
      return showProblem(
        new Problem(
          {
            title: 'That is as many as one order takes',
            detail: `one order holds up to ${maxSeatsPerOrder} seats; tap a picked seat to put it back`,
            code: 'ORDER_FULL',
          },
          0,
        ),
      );
    else picked.set(seat.seatNo, seat);
    showPicked();
  }
  async function refresh() {
    const [list, held] = await Promise.all([
      call('GET', `/schedules/${encodeURIComponent(schedule.id)}/seats`),
      myReservations('held').catch(() => []),
    ]);
    available = list.seats;
    // Seats this user holds are theirs, not "taken": a tap goes back to paying for them.
    const mineHere = new Map();
    for (const reservation of held.filter((r) => r.scheduleId === schedule.id))
      for (const seat of seatsOf(reservation)) mineHere.set(seat.seatNo, reservation);
    const bySeat = new Map(available.map((seat) => [seat.seatNo, seat]));
    // A picked seat someone else took meanwhile is no longer picked.
    for (const seatNo of picked.keys()) if (!bySeat.has(seatNo)) picked.delete(seatNo);
    // One colour per category (or per price, without names), dearest first.
    for (const seat of [...available].sort((a, b) => b.price - a.price)) {
      const key = seat.category ?? won(seat.price);
      if (!tiers.has(key)) tiers.set(key, { tier: `tier-${tiers.size % 4}`, price: seat.price });
    }
    const tierOf = (seat) => tiers.get(seat.category ?? won(seat.price))?.tier ?? 'tier-0';
    const seatButton = (seatNo) => {
      const seat = bySeat.get(seatNo);
      const yours = mineHere.get(seatNo);
      const row = rowOf(schedule, seatNo);
      const where = row === undefined ? `Seat ${seatNo}` : `Seat ${seatNo}, row ${row}`;
      if (yours)
        return el(
          'button',
          {
            class: 'seat yours',
            title: `${where}: held by you`,
            'aria-label': `${where}, held by you`,
            'data-testid': `seat-${seatNo}`,
            onclick: () => go('hold', { concert, schedule, reservation: yours }),
          },
          String(seatNo),
        );
      const kind = seat ? [seat.category, won(seat.price)].filter(present).join(', ') : 'taken';
      return el(
        'button',
        {
          class: `seat ${seat ? tierOf(seat) : 'taken'}`,
          disabled: seat === undefined,
          title: `${where}: ${kind}`,
          'aria-label': `${where}, ${kind}`,
          'aria-pressed': seat ? 'false' : undefined,
          'data-testid': `seat-${seatNo}`,
          'data-seat': seat ? seatNo : undefined,
          onclick: () => toggle(seat),
        },
        String(seatNo),
      );
    };
    const perRow = schedule.seatsPerRow || schedule.totalSeats;
    const rows = Math.ceil(schedule.totalSeats / perRow);
    grid.style.setProperty('--per-row', String(perRow <= 12 ? perRow : 10));
    fill(
      grid,
      Array.from({ length: rows }, (_, r) => {
        const seatNos = Array.from(
          { length: Math.min(perRow, schedule.totalSeats - r * perRow) },
          (_, i) => r * perRow + i + 1,
        );
        // A row of one category says so beside its number.
        const kinds = new Set(
          seatNos.map((seatNo) => bySeat.get(seatNo)?.category).filter(present),
        );
        return schedule.seatsPerRow
          ? el(
              'div',
              { class: 'seat-row', 'data-testid': `row-${r + 1}` },
              el(
                'span',
                { class: 'row-label' },
                `Row ${r + 1}`,
                kinds.size === 1 ? el('small', {}, [...kinds][0]) : null,
              ),
              el('div', { class: 'row-seats' }, seatNos.map(seatButton)),
            )
          : el('div', { class: 'row-seats' }, seatNos.map(seatButton));
      }),
    );
    fill(
      legend,
      ...[...tiers].map(([key, { tier, price }]) =>
        el(
          'span',
          { 'data-testid': 'legend-tier' },
          el('i', { class: `swatch ${tier}` }),
          key.startsWith('₩') ? key : `${key} ${won(price)}`,
        ),
      ),
      mineHere.size > 0 ? el('span', {}, el('i', { class: 'swatch yours' }), 'yours') : null,
      el('span', {}, el('i', { class: 'swatch taken' }), 'taken'),
    );
    const categories = [...new Set(available.map((seat) => seat.category).filter(present))];
    const chosen = category.value;
    fill(
      category,
      el('option', { value: '' }, 'Any category'),
      categories.map((name) => el('option', { value: name, selected: name === chosen }, name)),
    );
    category.hidden = categories.length === 0;
    status.textContent = `${available.length} seats left · updated ${new Date().toLocaleTimeString(undefined, { ...clock, second: '2-digit', timeZoneName: 'short' })}`;
    showPicked();
    // Sold out: is the user already on the list (another tab, a reload)? Asked once.
    if (available.length === 0 && !checkedEntry) {
      checkedEntry = true;
      await readEntry().catch(() => undefined);
    }
    showWaitlist();
  }
  /** Holds what was asked (`body`): the hold screen, or the reason why not and a fresh map. */
  async function holdWith(body) {
    clearProblem();
    wanted = body.quantity ?? body.seatNos?.length ?? 1;
    try {
      const reservation = await call('POST', '/reservations', { scheduleId: schedule.id, ...body });
      session.holdUntil(reservation.expiresAt);
      await go('hold', { concert, schedule, reservation });
    } catch (error) {
      showProblem(error);
      refresh().catch(showProblem);
    }
  }
  const holdSeats = () => {
    const seatNos = [...picked.keys()].sort((a, b) => a - b);
    return holdWith(seatNos.length === 1 ? { seatNo: seatNos[0] } : { seatNos });
  };
  const holdBest = () =>
    holdWith({
      quantity: Number(quantity.value),
      together: true,
      ...(category.value ? { category: category.value } : {}),
    });
  await refresh();
  render(
    el(
      'button',
      { class: 'link back', onclick: () => go('dates', { concert }) },
      `← ${concert.title}`,
    ),
    el('h1', {}, when(schedule.startsAt)),
    el(
      'div',
      { class: 'split' },
      el('div', {}, el('div', { class: 'stage' }, 'Stage'), grid, legend, status),
      el(
        'aside',
        { class: 'aside order' },
        seatsTitle,
        summary,
        holdPicked,
        waitBox,
        bestBox,
        el('button', { class: 'link', onclick: () => go('mine') }, 'My holds and tickets'),
      ),
    ),
  );
  // Every 2 s after the last answer (a slow answer is not asked again meanwhile), not while a tap is in flight;
  // not once the turn ended on the waitlist (the map is for an active turn; the entry's stream goes on).
  let timer;
  const again = () =>
    (timer = setTimeout(
      () =>
        (inFlight || (onWaitlist && session.turnEndsAt === undefined)
          ? Promise.resolve()
          : refresh()
        )
          .catch(showProblem)
          .finally(again),
      2_000,
    ));
  again();
  return () => {
    clearTimeout(timer);
    stopWatching();
    onWaitlist = false;
  };
}

/**
 * The hold: every seat of the order with its price, the total, the time left
 * to pay (extended once from here while the cap allows), topping up, paying.
 */
async function checkout(concert, schedule, held) {
  let reservation = held;
  // The server's clock decides when a hold ends; count down in its time (the offset is known only for a fresh hold).
  const offset =
    Date.now() - Date.parse(reservation.createdAt) < 5_000
      ? Date.parse(reservation.createdAt) - Date.now()
      : 0;
  const { holdExtensions, holdExtensionMs } = await limits();
  const total = totalOf(reservation);
  const list = seatsOf(reservation);
  const names = seatNames(list.map((seat) => seat.seatNo));
  const countdown = el('div', { class: 'countdown', 'data-testid': 'countdown' });
  const deadline = el('p', { class: 'small muted center', 'data-testid': 'deadline' });
  const extend = el(
    'button',
    {
      class: 'link',
      'data-testid': 'extend',
      'data-busy': 'Asking for more time…',
      onclick: async () => {
        clearProblem();
        try {
          reservation = await call(
            'POST',
            `/reservations/${encodeURIComponent(reservation.id)}/extend`,
          );
          session.holdUntil(reservation.expiresAt);
        } catch (error) {
          showProblem(error);
        }
        showDeadline();
        tick();
      },
    },
    `Need more time? Add ${Math.round(holdExtensionMs / 60_000)} min`,
  );
  function showDeadline() {
    const extended = reservation.extensions ?? 0;
    extend.hidden = extended >= holdExtensions;
    deadline.textContent =
      extended === 0
        ? `Held until ${localTime(Date.parse(reservation.expiresAt) - offset)}`
        : `Extended: held until ${localTime(Date.parse(reservation.expiresAt) - offset)}${extended >= holdExtensions ? ' (the last extension)' : ''}`;
  }
  const balanceLine = el('p', {});
  const amount = el('input', {
    id: 'amount',
    type: 'number',
    min: 1,
    step: 1,
    inputmode: 'numeric',
    'data-testid': 'charge-amount',
  });
  const pay = el(
    'button',
    {
      class: 'primary',
      'data-testid': 'pay',
      'data-busy': `Paying ${won(total)}…`,
      onclick: () => submitPayment(),
    },
    `Pay ${won(total)}`,
  );
  async function updateBalance() {
    const balance = (await refreshWallet()) ?? 0;
    balanceLine.textContent = `Your wallet: ${won(balance)}`;
    amount.value = String(Math.max(total - balance, 0) || 10_000);
    pay.disabled = balance < total;
  }
  async function submitPayment() {
    clearProblem();
    pay.disabled = true;
    try {
      const payment = await call(
        'POST',
        '/payments',
        { reservationId: reservation.id },
        { 'idempotency-key': idempotencyKey },
      );
      showWallet(payment.balance);
      // A payment ends the turn, unless the user still holds other seats (SPEC §4).
      const stillHeld = await myReservations('held').catch(() => []);
      if (stillHeld.length === 0) session.turn(undefined);
      await go(
        'ticket',
        { concert, schedule, reservation: { ...reservation, status: 'paid' }, payment },
        { replace: true },
      );
    } catch (error) {
      showProblem(error);
      pay.disabled = false;
    }
  }
  const idempotencyKey = crypto.randomUUID();
  await updateBalance();
  render(
    el(
      'section',
      { class: 'card narrow', 'data-testid': 'hold' },
      el(
        'p',
        { class: 'eyebrow' },
        list.length === 1 ? 'Seat held for you' : `${list.length} seats held for you`,
      ),
      el('h1', {}, names),
      el('p', {}, `${concert.title}${schedule.startsAt ? ` · ${when(schedule.startsAt)}` : ''}`),
      reservation.origin === 'waitlist'
        ? el(
            'p',
            { class: 'note', 'data-testid': 'from-waitlist' },
            `From the waitlist: ${list.length === 1 ? 'this seat came back and is' : 'these seats came back and are'} held for you. Pay before the time runs out.`,
          )
        : null,
      list.length > 1 || list[0].category || rowOf(schedule, list[0].seatNo)
        ? el(
            'ul',
            { class: 'order-seats', 'data-testid': 'order-seats' },
            list.map((seat) =>
              el(
                'li',
                {},
                el('span', {}, seatPlace(schedule, seat)),
                el('span', {}, won(seat.price)),
              ),
            ),
          )
        : null,
      el(
        'p',
        { class: 'price', 'data-testid': 'order-total' },
        list.length > 1 ? `Total ${won(total)}` : won(total),
      ),
      countdown,
      deadline,
      extend,
      balanceLine,
      el(
        'form',
        {
          class: 'row',
          onsubmit: async (event) => {
            event.preventDefault();
            clearProblem();
            try {
              await call(
                'POST',
                `/users/${encodeURIComponent(session.userId)}/balance/charge`,
                { amount: Number(amount.value) },
                { 'idempotency-key': crypto.randomUUID() },
              );
              await updateBalance();
            } catch (error) {
              showProblem(error, amountAdvice(error));
            }
          },
        },
        el('label', { for: 'amount', class: 'sr-only' }, 'Amount to add'),
        amount,
        el(
          'button',
          { type: 'submit', 'data-testid': 'charge', 'data-busy': 'Adding to your wallet…' },
          'Top up',
        ),
      ),
      pay,
      el(
        'button',
        {
          class: 'link',
          'data-testid': 'cancel',
          'data-busy': `Releasing ${names.toLowerCase()}…`,
          onclick: async () => {
            try {
              await call('DELETE', `/reservations/${encodeURIComponent(reservation.id)}`);
            } catch (error) {
              showProblem(error);
            }
            await go('seats', { concert, schedule }, { replace: true });
          },
        },
        list.length === 1 ? 'Release this seat' : 'Release these seats',
      ),
    ),
  );
  showDeadline();
  let timer;
  const tick = () => {
    const left = Math.max(0, (Date.parse(reservation.expiresAt) - (Date.now() + offset)) / 1000);
    countdown.textContent = `${duration(Math.ceil(left))} left to pay`;
    countdown.classList.toggle('urgent', left < 60);
    if (left === 0) {
      clearInterval(timer);
      showProblem(
        new Problem(
          {
            title: 'Hold expired',
            detail: `${names.toLowerCase()} ${list.length === 1 ? 'is' : 'are'} back on sale`,
            code: 'HOLD_EXPIRED',
          },
          409,
        ),
      );
      go('seats', { concert, schedule }, { replace: true });
    }
  };
  tick();
  timer = setInterval(tick, 250);
  return () => clearInterval(timer);
}

/**
 * Why an amount was refused, from the API's answer: its upper bound (the most
 * one top-up may add) in money, else the API's own words.
 */
function amountAdvice(problem) {
  const reason = problem.errors?.find((error) => error.path.endsWith('amount'))?.message ?? '';
  const most = /<=\s*(\d+)/.exec(reason)?.[1];
  if (most) return `You can add at most ${won(Number(most))} at a time.`;
  if (/>=\s*1\b/.test(reason)) return 'Type a whole amount to add, greater than zero.';
  return problem.message;
}

function confirmed(concert, schedule, reservation, payment) {
  render(
    el(
      'section',
      { class: 'card ticket narrow', 'data-testid': 'confirmation' },
      el('p', { class: 'eyebrow' }, 'Paid · your ticket'),
      el('h1', {}, concert.title),
      schedule.startsAt ? el('p', {}, when(schedule.startsAt)) : null,
      el('p', { class: 'seat-big' }, seatNames(seatsOf(reservation).map((seat) => seat.seatNo))),
      seatsOf(reservation).length > 1 || seatsOf(reservation)[0].category
        ? el(
            'ul',
            { class: 'order-seats' },
            seatsOf(reservation).map((seat) =>
              el(
                'li',
                {},
                el('span', {}, seatPlace(schedule, seat)),
                el('span', {}, won(seat.price)),
              ),
            ),
          )
        : null,
      el(
        'dl',
        {},
        el('dt', {}, 'Paid'),
        el('dd', {}, won(payment?.amount ?? totalOf(reservation))),
        payment ? [el('dt', {}, 'Wallet after'), el('dd', {}, won(payment.balance))] : null,
        payment ? [el('dt', {}, 'Payment'), el('dd', { class: 'mono' }, payment.id)] : null,
        el('dt', {}, 'Reservation'),
        el('dd', { class: 'mono' }, reservation.id),
      ),
      el(
        'div',
        { class: 'row' },
        el(
          'button',
          { class: 'primary', 'data-testid': 'open-tickets', onclick: () => go('tickets') },
          'My tickets',
        ),
        el('button', { onclick: () => go('mine') }, 'My holds and tickets'),
        el(
          'button',
          { 'data-busy': 'Joining the line…', onclick: () => enter(session.userId) },
          'Buy another ticket',
        ),
      ),
    ),
  );
  showWallet(payment?.balance);
}

// Start where the session left off: the step in history (a reload keeps it), checked against the API;
// first, a site that sent the visitor here to be sent back (`?return=`).
passReturn.read().then(() => restore(history.state));
