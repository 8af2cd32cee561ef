// The usher page: join → wait (live, Server-Sent Events) → concert → date → seat → hold → charge → pay.
// Plain JavaScript in the browser, no build step; every call is the public REST API.

const app = document.getElementById('app');
const problemBox = document.getElementById('problem');
const session = {
  get token() { return sessionStorage.getItem('usher.token'); },
  get userId() { return sessionStorage.getItem('usher.userId'); },
  save(token, userId) { sessionStorage.setItem('usher.token', token); sessionStorage.setItem('usher.userId', userId); },
  clear() { sessionStorage.removeItem('usher.token'); sessionStorage.removeItem('usher.userId'); },
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
  VALIDATION_FAILED: 'Please check what you typed.',
  SHUTTING_DOWN: 'The box office is restarting. Try again in a few seconds.',
  UNAVAILABLE: 'The box office cannot take orders right now. Try again in a few seconds.',
};

/** An RFC 9457 problem answered by the API. */
class Problem extends Error {
  constructor(body, status) {
    super(body?.detail ?? `The server answered ${status}`);
    this.title = body?.title ?? 'Something went wrong';
    this.code = body?.code ?? 'UNKNOWN';
    this.status = status;
  }
}

async function call(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(session.token ? { authorization: `Bearer ${session.token}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const data = await response.json().catch(() => undefined);
  if (!response.ok) throw new Problem(data, response.status);
  return data;
}

/** Shows a problem in plain words; an expired token sends the user back to the start. */
function showProblem(error) {
  const problem = error instanceof Problem ? error : new Problem({ title: 'Connection problem', detail: String(error.message ?? error) }, 0);
  problemBox.replaceChildren(
    el('strong', {}, problem.title),
    el('span', {}, ` — ${problem.message}`),
    ...(advice[problem.code] ? [el('p', {}, advice[problem.code])] : []),
    el('button', { class: 'link', onclick: () => (problemBox.hidden = true), 'aria-label': 'Dismiss' }, '✕'),
  );
  problemBox.dataset.code = problem.code;
  problemBox.hidden = false;
  if (problem.code === 'TOKEN_INVALID' || problem.code === 'TOKEN_MISSING') {
    session.clear();
    show(join);
  }
}

function clearProblem() {
  problemBox.hidden = true;
}

/** A tiny DOM builder: text is always text, never HTML. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, '');
    else if (value !== false && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const won = (amount) => `₩${amount.toLocaleString('en')}`;
/** A concert's time as the venue's clock shows it (the offset in the ISO string), wherever the browser is. */
const when = (iso) =>
  new Date(`${iso.slice(0, 19)}Z`).toLocaleString('en', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
  });
const duration = (seconds) => (seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min` : `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`);
const roughly = (seconds) =>
  seconds < 60 ? 'less than a minute' : seconds < 3600 ? `about ${Math.round(seconds / 60)} min` : `about ${duration(seconds)}`;

/** The screen now shown, and what it must stop (timers, streams) when another replaces it. */
let leave = () => undefined;
async function show(screen, ...args) {
  leave();
  leave = () => undefined;
  window.scrollTo(0, 0);
  try {
    leave = (await screen(...args)) ?? (() => undefined);
  } catch (error) {
    showProblem(error);
  }
}

async function refreshWallet() {
  const who = document.getElementById('who');
  if (!session.userId) return (who.hidden = true);
  document.getElementById('who-name').textContent = session.userId;
  who.hidden = false;
  try {
    const { balance } = await call('GET', `/users/${encodeURIComponent(session.userId)}/balance`);
    document.getElementById('wallet').textContent = won(balance);
    return balance;
  } catch {
    document.getElementById('wallet').textContent = '';
    return undefined;
  }
}

// Screens

function join() {
  document.getElementById('who').hidden = true;
  const input = el('input', { id: 'name', name: 'name', autocomplete: 'nickname', required: true, maxlength: 64, placeholder: 'e.g. minji', 'data-testid': 'join-name' });
  app.replaceChildren(
    el('section', { class: 'card hero' },
      el('h1', {}, 'Concert tickets'),
      el('p', { class: 'muted' }, 'Everyone gets a fair place in line. When it is your turn, you have 10 minutes to pick a seat, and 5 minutes to pay for it.'),
      el('form', { class: 'stack', onsubmit: async (event) => {
        event.preventDefault();
        clearProblem();
        try {
          const token = await call('POST', '/queue/tokens', { userId: input.value.trim() });
          session.save(token.token, token.userId);
          show(token.status === 'active' ? concerts : waiting);
        } catch (error) {
          showProblem(error);
        }
      } },
        el('label', { for: 'name' }, 'Your name'),
        input,
        el('button', { type: 'submit', class: 'primary', 'data-testid': 'join-button' }, 'Join the line'),
      ),
    ),
  );
  input.focus();
}

function waiting() {
  const position = el('div', { class: 'position', 'data-testid': 'position' }, '…');
  const wait = el('p', { class: 'muted', 'data-testid': 'wait' }, 'Finding your place…');
  const bar = el('div', { class: 'progress' }, el('span'));
  app.replaceChildren(
    el('section', { class: 'card center' },
      el('p', { class: 'eyebrow' }, 'You are in line'),
      position,
      el('p', {}, 'your place in line'),
      bar,
      wait,
      el('p', { class: 'small muted' }, 'Keep this page open: it moves on by itself when it is your turn.'),
    ),
  );
  let first;
  const source = new EventSource(`/queue/tokens/current/events?access_token=${encodeURIComponent(session.token)}`);
  // Where the token stands, asked once, when the stream cannot go on.
  const ask = async () => {
    source.close();
    try {
      const token = await call('GET', '/queue/tokens/current');
      show(token.status === 'active' ? concerts : waiting);
    } catch (error) {
      showProblem(error);
    }
  };
  source.addEventListener('token', (event) => {
    const token = JSON.parse(event.data);
    // Only a last event saying active or expired is final.
    if (token.status === 'active') {
      source.close();
      show(concerts);
      return;
    }
    if (token.status === 'expired') return void ask();
    first ??= token.position;
    position.textContent = token.position.toLocaleString('en');
    wait.textContent = `Your turn in ${roughly(token.estimatedWaitSeconds)}`;
    bar.firstChild.style.width = `${Math.max(4, 100 * (1 - (token.position - 1) / Math.max(1, first)))}%`;
  });
  source.onerror = () => {
    // A stream that ended (the server ends them after a while, or when the
    // token's newer streams replace it) or broke: the browser reconnects by
    // itself after `retry`. Only a refused reconnect (an error answer) closes it.
    if (source.readyState === EventSource.CLOSED) void ask();
  };
  return () => source.close();
}

async function concerts() {
  await refreshWallet();
  const { concerts: list } = await call('GET', '/concerts');
  app.replaceChildren(
    el('h1', {}, 'Pick a concert'),
    el('div', { class: 'list' }, list.map((concert) =>
      el('button', { class: 'card choice', 'data-testid': 'concert', onclick: () => show(dates, concert) },
        el('strong', {}, concert.title),
        concert.artist ? el('span', {}, concert.artist) : null,
        concert.venue ? el('span', { class: 'muted small' }, concert.venue) : null,
      ),
    )),
  );
}

async function dates(concert) {
  const { schedules } = await call('GET', `/concerts/${encodeURIComponent(concert.id)}/schedules`);
  app.replaceChildren(
    el('button', { class: 'link back', onclick: () => show(concerts) }, '← Concerts'),
    el('h1', {}, concert.title),
    schedules.length === 0 ? el('p', { class: 'card' }, 'Sold out, every date. Sorry!') : null,
    el('div', { class: 'list' }, schedules.map((schedule) =>
      el('button', { class: 'card choice', 'data-testid': 'date', onclick: () => show(seats, concert, schedule) },
        el('strong', {}, when(schedule.startsAt)),
        el('span', { class: 'muted' }, `${schedule.availableSeats} of ${schedule.totalSeats} seats left`),
      ),
    )),
  );
}

function seats(concert, schedule) {
  const grid = el('div', { class: 'seats', role: 'grid', 'aria-label': 'Seat map' });
  const legend = el('div', { class: 'legend' });
  const status = el('p', { class: 'muted small' });
  app.replaceChildren(
    el('button', { class: 'link back', onclick: () => show(dates, concert) }, `← ${concert.title}`),
    el('h1', {}, when(schedule.startsAt)),
    el('div', { class: 'stage' }, 'Stage'),
    grid,
    legend,
    status,
  );
  const tiers = new Map();
  async function refresh() {
    const { seats: available } = await call('GET', `/schedules/${encodeURIComponent(schedule.id)}/seats`);
    const prices = new Map(available.map((seat) => [seat.seatNo, seat.price]));
    for (const price of prices.values()) if (!tiers.has(price)) tiers.set(price, `tier-${tiers.size % 4}`);
    grid.replaceChildren(...Array.from({ length: schedule.totalSeats }, (_, i) => {
      const seatNo = i + 1;
      const price = prices.get(seatNo);
      return el('button', {
        class: `seat ${price === undefined ? 'taken' : tiers.get(price)}`,
        disabled: price === undefined,
        title: price === undefined ? `Seat ${seatNo}: taken` : `Seat ${seatNo}: ${won(price)}`,
        'aria-label': price === undefined ? `Seat ${seatNo}, taken` : `Seat ${seatNo}, ${won(price)}`,
        'data-testid': `seat-${seatNo}`,
        onclick: () => hold(concert, schedule, seatNo, refresh),
      }, String(seatNo));
    }));
    legend.replaceChildren(
      ...[...tiers].sort(([a], [b]) => b - a).map(([price, tier]) => el('span', {}, el('i', { class: `swatch ${tier}` }), won(price))),
      el('span', {}, el('i', { class: 'swatch taken' }), 'taken'),
    );
    status.textContent = `${available.length} seats left · updated ${new Date().toLocaleTimeString('en')}`;
  }
  refresh().catch(showProblem);
  const timer = setInterval(() => refresh().catch(showProblem), 2_000);
  return () => clearInterval(timer);
}

async function hold(concert, schedule, seatNo, refreshSeats) {
  clearProblem();
  try {
    const reservation = await call('POST', '/reservations', { scheduleId: schedule.id, seatNo });
    show(checkout, concert, schedule, reservation);
  } catch (error) {
    showProblem(error);
    refreshSeats().catch(showProblem);
  }
}

async function checkout(concert, schedule, reservation) {
  // The server's clock decides when a hold ends; count down in its time.
  const offset = Date.parse(reservation.createdAt) - Date.now();
  const countdown = el('div', { class: 'countdown', 'data-testid': 'countdown' });
  const balanceLine = el('p', {});
  const amount = el('input', { id: 'amount', type: 'number', min: 1, step: 1, inputmode: 'numeric', 'data-testid': 'charge-amount' });
  const pay = el('button', { class: 'primary', 'data-testid': 'pay', onclick: () => submitPayment() }, `Pay ${won(reservation.price)}`);
  async function updateBalance() {
    const balance = (await refreshWallet()) ?? 0;
    balanceLine.textContent = `Your wallet: ${won(balance)}`;
    amount.value = String(Math.max(reservation.price - balance, 0) || 10_000);
    pay.disabled = balance < reservation.price;
  }
  async function submitPayment() {
    clearProblem();
    pay.disabled = true;
    try {
      const payment = await call('POST', '/payments', { reservationId: reservation.id }, { 'idempotency-key': idempotencyKey });
      show(confirmed, concert, schedule, reservation, payment);
    } catch (error) {
      showProblem(error);
      pay.disabled = false;
    }
  }
  const idempotencyKey = crypto.randomUUID();
  app.replaceChildren(
    el('section', { class: 'card' },
      el('p', { class: 'eyebrow' }, 'Seat held for you'),
      el('h1', {}, `Seat ${reservation.seatNo}`),
      el('p', {}, `${concert.title} · ${when(schedule.startsAt)}`),
      el('p', { class: 'price' }, won(reservation.price)),
      countdown,
      balanceLine,
      el('form', { class: 'row', onsubmit: async (event) => {
        event.preventDefault();
        clearProblem();
        try {
          await call('POST', `/users/${encodeURIComponent(session.userId)}/balance/charge`, { amount: Number(amount.value) }, { 'idempotency-key': crypto.randomUUID() });
          await updateBalance();
        } catch (error) {
          showProblem(error);
        }
      } },
        el('label', { for: 'amount', class: 'sr-only' }, 'Amount to add'),
        amount,
        el('button', { type: 'submit', 'data-testid': 'charge' }, 'Top up'),
      ),
      pay,
      el('button', { class: 'link', 'data-testid': 'cancel', onclick: async () => {
        try {
          await call('DELETE', `/reservations/${encodeURIComponent(reservation.id)}`);
        } catch (error) {
          showProblem(error);
        }
        show(seats, concert, schedule);
      } }, 'Release this seat'),
    ),
  );
  await updateBalance();
  const tick = () => {
    const left = Math.max(0, (Date.parse(reservation.expiresAt) - (Date.now() + offset)) / 1000);
    countdown.textContent = `${duration(Math.ceil(left))} left to pay`;
    countdown.classList.toggle('urgent', left < 60);
    if (left === 0) {
      showProblem(new Problem({ title: 'Hold expired', detail: `seat ${reservation.seatNo} is back on sale`, code: 'HOLD_EXPIRED' }, 409));
      show(seats, concert, schedule);
    }
  };
  tick();
  const timer = setInterval(tick, 250);
  return () => clearInterval(timer);
}

function confirmed(concert, schedule, reservation, payment) {
  app.replaceChildren(
    el('section', { class: 'card ticket', 'data-testid': 'confirmation' },
      el('p', { class: 'eyebrow' }, 'Paid · your ticket'),
      el('h1', {}, concert.title),
      el('p', {}, when(schedule.startsAt)),
      el('p', { class: 'seat-big' }, `Seat ${reservation.seatNo}`),
      el('dl', {},
        el('dt', {}, 'Paid'), el('dd', {}, won(payment.amount)),
        el('dt', {}, 'Wallet after'), el('dd', {}, won(payment.balance)),
        el('dt', {}, 'Payment'), el('dd', { class: 'mono' }, payment.id),
      ),
      el('button', { onclick: () => { session.clear(); show(join); } }, 'Buy another ticket'),
    ),
  );
  document.getElementById('wallet').textContent = won(payment.balance);
}

// Start where the session left off.
if (!session.token) show(join);
else call('GET', '/queue/tokens/current').then((token) => show(token.status === 'active' ? concerts : waiting), showProblem);
