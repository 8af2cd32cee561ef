// The door's scanner page (/scan): the box office's SCANNER_TOKEN (kept in this tab's
// sessionStorage), a ticket's code scanned or pasted, `POST /checkin`, and the answer in words.

const tokenInput = document.getElementById('scanner-token');
const tokenState = document.getElementById('token-state');
const code = document.getElementById('code');
const result = document.getElementById('result');
const detail = document.getElementById('result-detail');
const scanButton = document.querySelector('[data-testid="scan-button"]');
const KEY = 'usher.scannerToken';

function showToken() {
  const saved = sessionStorage.getItem(KEY);
  tokenInput.value = saved ?? '';
  tokenState.textContent = saved
    ? 'Token set for this tab. Scan a ticket.'
    : "Type the box office's SCANNER_TOKEN first. It stays in this tab only, until it is closed.";
}

/** A time of the door's day, in this device's format and zone, with seconds: `19:02:41 GMT+9`. */
const at = (iso) =>
  new Date(iso).toLocaleTimeString(undefined, {
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });

function say(ok, text, more = '') {
  result.textContent = text;
  result.className = `scan-result ${ok ? 'ok' : 'refused'}`;
  result.dataset.outcome = ok ? 'ok' : 'refused';
  result.hidden = false;
  detail.textContent = more;
  detail.hidden = more === '';
}

/** What the door says for each answer of `POST /checkin`. */
function verdict(status, body) {
  if (status === 200) return [true, `Checked in: seat ${body.seatNo}`, `Date ${body.scheduleId}`];
  switch (body?.code) {
    case 'ALREADY_CHECKED_IN':
      return [
        false,
        `Already checked in at ${at(body.checkedInAt)}`,
        'Do not let this code in again.',
      ];
    case 'TICKET_VOID':
      return [false, 'Void ticket', 'It was refunded or given to someone else.'];
    case 'TICKET_INVALID':
      return [false, 'Invalid code', 'Not a ticket of this box office, or not the whole code.'];
    case 'VALIDATION_FAILED':
      return [false, 'Invalid code', 'Scan or paste a ticket code first.'];
  }
  if (status === 401) return [false, 'Wrong scanner token', 'Check the token, then scan again.'];
  if (status === 404)
    return [false, 'Scanning is off', 'This box office was started without SCANNER_TOKEN.'];
  if (status === 429)
    return [false, 'Too many wrong tokens', 'Wait a minute, then check the token.'];
  return [false, body?.title ?? `The server answered ${status}`, body?.detail ?? ''];
}

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
  showToken();
  code.focus();
});

let busy = false;
document.getElementById('scan-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy) return;
  // The token in the field is the one used (typed without pressing Use, it is kept all the same).
  const token = tokenInput.value.trim();
  if (!token) return say(false, 'Wrong scanner token', 'Type the scanner token first.');
  if (sessionStorage.getItem(KEY) !== token) {
    sessionStorage.setItem(KEY, token);
    showToken();
  }
  busy = true;
  scanButton.disabled = true;
  scanButton.textContent = 'Checking…';
  try {
    const response = await fetch('/checkin', {
      method: 'POST',
      cache: 'no-store',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ code: code.value.replace(/\s+/g, '') }),
    });
    const body = await response.json().catch(() => undefined);
    say(...verdict(response.status, body));
    if (response.status === 200) code.value = '';
  } catch (error) {
    say(false, 'No connection to the box office', String(error.message ?? error));
  } finally {
    busy = false;
    scanButton.disabled = false;
    scanButton.textContent = 'Check in';
    code.focus();
  }
});

showToken();
code.focus();
