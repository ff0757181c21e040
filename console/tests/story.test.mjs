// The operator's day in one story: create a recurring event with a stock in the editor, let
// players claim through the API, watch the live view count approvals and the stock fall, revoke
// one claim and find it in the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { account, api, browser, claim, go, localInput, signedIn } from './helpers.mjs';

describe('story: event with stock, claims, live view, revoke, audit', () => {
  let b, operator, auditor, players, page, eventId, claims = [];
  before(async () => {
    b = await browser();
    operator = await account('story-op', ['USER', 'OPERATOR']);
    auditor = await account('story-aud', ['USER', 'AUDITOR']);
    players = await Promise.all([1, 2, 3].map((i) => account(`story-p${i}`)));
    page = await b.page();
    await signedIn(page, operator);
  });
  after(async () => b && (await b.close()));

  test('the operator creates an event with a stock of 5 in the editor and activates it', async () => {
    await go(page, '/events/new');
    await page.getByLabel('Title').fill(`Daily check-in ${Date.now()}`);
    await page.getByLabel('Starts at (UTC)').fill(localInput(-2 * 3_600_000));
    await page.getByLabel('Ends at (UTC)').fill(localInput(14 * 86_400_000));
    await page.getByLabel('Stock for the whole event (maxClaims)').fill('5');
    await page.getByLabel(/Repeats/).check();
    await page.getByLabel('Every').selectOption('DAY');
    await page.getByLabel('Stock per period (maxClaimsPerPeriod)').fill('5');
    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.getByRole('heading', { name: 'Edit event' }).waitFor();
    eventId = page.url().split('#/events/')[1];
    await page.getByRole('button', { name: 'Activate…' }).click();
    await page.getByTestId('forecast').getByRole('button', { name: /Confirm activation|Activate without forecast/ }).click();
    await page.getByText('Activated.').waitFor();
    const ev = (await api('GET', `/events/${eventId}`, { token: operator.token })).data;
    assert.equal(ev.status, 'ACTIVE');
    assert.equal(ev.maxClaims, 5);
    assert.equal(ev.recurrence?.every, 'DAY');
    b.assertClean();
  });

  test('players claim through the API; the live view shows the approvals and the stock falling', async () => {
    assert.ok(eventId, 'event from the previous step');
    await go(page, `/events/${eventId}/live`);
    const stock = page.getByTestId('live-stock');
    await stock.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="live-stock"]')?.textContent === '5', null, { timeout: 15_000 });
    for (const p of players.slice(0, 2)) claims.push(await claim(p.token, eventId));
    await page.waitForFunction(() => document.querySelector('[data-testid="live-approved"]')?.textContent === '2', null, { timeout: 15_000 });
    assert.equal(await stock.innerText(), '3');
    claims.push(await claim(players[2].token, eventId));
    await page.waitForFunction(() => document.querySelector('[data-testid="live-stock"]')?.textContent === '2', null, { timeout: 15_000 });
    assert.equal(await page.getByTestId('live-approved').innerText(), '3');
    const source = await page.getByTestId('live-source').innerText();
    assert.ok(['stream', 'polling stats', 'counting claims'].includes(source), source);
    // The latest claims table follows too.
    await page.locator('main table tbody tr').nth(2).waitFor();
    // And the events list shows today's approvals and the stock left.
    await go(page, '/events');
    const row = page.locator(`tr[data-event-id="${eventId}"]`);
    await row.waitFor();
    await page.waitForFunction((id) => document.querySelector(`tr[data-event-id="${id}"] [data-testid="approved-today"]`)?.textContent === '3', eventId, { timeout: 10_000 });
    assert.match(await row.getByTestId('stock-left').innerText(), /^2/);
    b.assertClean();
  });

  test('the operator revokes one claim with a reason and the stock comes back', async () => {
    await go(page, `/claims?eventId=${eventId}`);
    const row = page.locator(`tr[data-claim-id="${claims[0].id}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    // Escape closes the panel without revoking; the focus starts in the reason field.
    // The panel renders and takes the focus after the click's task, so wait for it rather than read it at once.
    await page.waitForFunction(() => document.activeElement?.id === 'f-reason', null, { timeout: 5_000 });
    await page.keyboard.press('Escape');
    await page.locator('form.revoke').waitFor({ state: 'detached' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByLabel(/Reason/).fill('duplicate account');
    await page.locator('form.revoke').getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(`Claim ${claims[0].id} is now REVOKED.`).waitFor();
    assert.equal((await api('GET', `/claims/${claims[0].id}`, { token: operator.token })).data.status, 'REVOKED');
    await go(page, `/events/${eventId}/live`);
    await page.waitForFunction(() => document.querySelector('[data-testid="live-revoked"]')?.textContent === '1', null, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="live-stock"]')?.textContent === '3', null, { timeout: 15_000 });
    b.assertClean();
  });

  test('the audit log shows the revoke with before and after side by side', async () => {
    const ap = await b.page();
    await signedIn(ap, auditor);
    await go(ap, `/audit?entityType=claim&entityId=${claims[0].id}`);
    const item = ap.getByTestId('audit-list').getByRole('button', { name: /revoke/i }).first();
    await item.waitFor();
    await item.click();
    const diff = ap.getByTestId('audit-diff');
    await diff.waitFor();
    const changed = diff.locator('tr.changed', { hasText: 'status' });
    assert.match(await changed.innerText(), /APPROVED[\s\S]*REVOKED/);
    await ap.getByLabel('Only changed fields').check();
    assert.equal(await diff.locator('tbody tr:not(.changed)').count(), 0);
    await changed.waitFor();
    b.assertClean();
  });

  test('recurring events show their periods in the editor and on the timeline', async () => {
    await go(page, `/events/${eventId}`);
    const list = page.getByTestId('periods');
    await list.waitFor();
    assert.ok((await list.locator('li').count()) >= 2);
    await go(page, '/events');
    await page.locator(`tr[data-event-id="${eventId}"] .tag`, { hasText: 'every day' }).waitFor();
    assert.ok((await page.locator(`.tl-row[data-event-id="${eventId}"] .tl-period`).count()) >= 2);
    b.assertClean();
  });
});
