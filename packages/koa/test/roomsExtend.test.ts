import test from 'ava';
import { assertProblem, bearer, startApi } from './helpers/api.js';

// SPEC §12: a token admits to its own room's routes only, extending a hold among them (SPEC §10);
// the OpenAPI document says so for every route that answers it.

test('POST /reservations/:id/extend with a token of another room is 403 TOKEN_WRONG_ROOM, and the OpenAPI document lists it', async (t) => {
  const api = await startApi();
  await api.engine.loadCatalog({
    concerts: [{ id: 'tour', title: 'The Tour', room: {} }],
    schedules: [
      {
        id: 'tour-1',
        concertId: 'tour',
        startsAt: '2027-06-01T19:00:00Z',
        totalSeats: 3,
        price: 700,
      },
    ],
  });
  const plain = (await api.http.post('/queue/tokens').send({ userId: 'ann' })).body as {
    token: string;
  };
  const tour = (await api.http.post('/queue/tokens').send({ userId: 'ann', concertId: 'tour' }))
    .body as { token: string; status: string };
  if (tour.status !== 'active') await api.engine.tick();
  const hold = await api.http
    .post('/reservations')
    .set(bearer(plain.token))
    .send({ scheduleId: 's1', seatNo: 1 });
  t.is(hold.status, 201, JSON.stringify(hold.body));
  const id = (hold.body as { id: string }).id;
  const wrong = await api.http.post(`/reservations/${id}/extend`).set(bearer(tour.token));
  assertProblem(t, wrong, 'TOKEN_WRONG_ROOM');
  const document = (await api.http.get('/openapi.json')).body as {
    paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
  };
  const refused = document.paths['/reservations/{reservationId}/extend']!['post']!.responses['403'];
  t.truthy(refused, 'the extend route documents its 403');
  t.regex(refused?.description ?? '', /TOKEN_WRONG_ROOM/);
});
