import type { ComponentChildren } from 'preact';
import { href } from './router';
import type { Claim } from './types';
import { fmtTime, StatusBadge } from './ui';

export type ClaimColumn = 'requested' | 'event' | 'user' | 'status' | 'reason' | 'decided';

const HEAD: Record<ClaimColumn, string> = {
  requested: 'Requested',
  event: 'Event',
  user: 'User',
  status: 'Status',
  reason: 'Reason',
  decided: 'Decided',
};

function cell(c: Claim, col: ClaimColumn): ComponentChildren {
  switch (col) {
    case 'requested':
      return fmtTime(c.requestedAt);
    case 'decided':
      return fmtTime(c.decidedAt);
    case 'event':
      return (
        <a href={href(`/events/${c.eventId}`)}>
          <code>{c.eventId}</code>
        </a>
      );
    case 'user':
      return (
        <a href={href(`/users/${c.userId}`)}>
          <code>{c.userId}</code>
        </a>
      );
    case 'status':
      return (
        <>
          <StatusBadge status={c.status} />
          {c.source === 'GRANT' && <span class="tag">grant</span>}
        </>
      );
    case 'reason':
      return c.reason ?? '';
  }
}

/** The one claims table of the console (claims search, live view, user page). */
export function ClaimsTable(props: {
  claims: Claim[];
  columns: ClaimColumn[];
  testId?: string;
  actions?: (c: Claim) => ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table class="cards" data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((col) => (
              <th scope="col" key={col}>
                {HEAD[col]}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {props.claims.map((c) => (
            <tr key={c.id} data-claim-id={c.id}>
              {props.columns.map((col) => (
                <td data-label={HEAD[col]} key={col}>
                  {cell(c, col)}
                </td>
              ))}
              {props.actions && (
                <td data-label="Actions" class="actions">
                  {props.actions(c)}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
