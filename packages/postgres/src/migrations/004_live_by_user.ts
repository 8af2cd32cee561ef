/**
 * An index for a user's listing (`listReservations`): their held and paid
 * reservations by `user_id`, newest first, without reading anyone else's.
 */
export const liveByUser = /* sql */ `
CREATE INDEX reservations_live_by_user ON reservations (user_id, created_at DESC) WHERE status IN ('held', 'paid');
`;
