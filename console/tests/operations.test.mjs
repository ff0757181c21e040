// Segments, grants and the audit log (SPEC §8).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { account, activate, admin, api, browser, createEvent, go, signedIn } from './helpers.mjs';

describe('segments, grants, audit', () => {
  let b, operator, auditor, players, ev;
  before(async () => {
    b = await browser();
    operator = await account('ops-op', ['USER', 'OPERATOR']);
    auditor = await account('ops-aud', ['USER', 'AUDITOR']);
    players = await Promise.all([1, 2, 3].map((i) => account(`ops-p${i}`)));
    ev = await activate(await admin(), await createEvent(await admin(), { title: 'grants event', maxClaims: 10 }));
  });
  after(async () => b && (await b.close()));

  test('segments: create one, add members by pasted ids and by CSV file, remove one', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/segments');
    await page.getByLabel('Name').fill(`vip-${Date.now()}`);
    await page.getByLabel('Description').fill('whales');
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.getByTestId('segment-name').waitFor();
    const segId = page.url().split('#/segments/')[1];
    await page.getByLabel('User ids').fill(`${players[0].id}, ${players[1].id}`);
    await page.getByText('2 distinct ids').waitFor();
    await page.getByRole('button', { name: 'Add members' }).click();
    await page.getByText('Added 2 ids.').waitFor();
    const csv = join(tmpdir(), `members-${Date.now()}.csv`);
    writeFileSync(csv, `userId,note\n${players[2].id},from file\n`);
    await page.getByLabel(/CSV file/).setInputFiles(csv);
    await page.getByText('1 distinct id').waitFor();
    await page.getByRole('button', { name: 'Add members' }).click();
    await page.getByText('Added 1 id.').waitFor();
    await page.getByTestId('members').getByRole('link', { name: players[2].id }).waitFor();
    await page.getByLabel('User ids').fill(players[0].id);
    await page.getByRole('button', { name: 'Remove these members' }).click();
    await page.getByText('Removed 1 id.').waitFor();
    const members = (await api('GET', `/segments/${segId}/members?limit=100`, { token: operator.token })).data.items.map((m) => (typeof m === 'string' ? m : m.userId ?? m.id));
    assert.deepEqual(new Set(members), new Set([players[1].id, players[2].id]));
    b.assertClean();
  });

  test('grants: a grant job runs and its progress is shown until DONE', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, `/grants?eventId=${ev.id}`);
    await page.getByLabel('User ids').fill(players.map((p) => p.id).join('\n'));
    await page.getByLabel(/Reason/).fill('outage compensation');
    await page.getByRole('button', { name: 'Start grant job' }).click();
    await page.getByTestId('job').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="job-status"]')?.textContent === 'DONE', null, { timeout: 20_000 });
    assert.equal(await page.getByTestId('job-done').innerText(), '3');
    const granted = (await api('GET', `/claims?eventId=${ev.id}&status=APPROVED`, { token: operator.token })).data.items;
    assert.equal(granted.length, 3);
    b.assertClean();
  });

  test('audit log: an auditor filters records and reads before/after side by side', async () => {
    // A staff write to audit: change the event's title.
    const cur = (await api('GET', `/events/${ev.id}`, { token: operator.token })).data;
    await api('PATCH', `/events/${ev.id}`, { token: operator.token, body: { title: 'grants event (renamed)', version: cur.version } });
    const page = await b.page();
    await signedIn(page, auditor);
    await go(page, `/audit?entityType=event&entityId=${ev.id}`);
    await page.getByTestId('audit-list').locator('button').first().click();
    const row = page.getByTestId('audit-diff').locator('tr.changed', { hasText: 'title' });
    await row.waitFor();
    assert.match(await row.innerText(), /grants event[\s\S]*grants event \(renamed\)/);
    b.assertClean();
  });
});
