import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { account, api, browser, go, localInput, signedIn } from './helpers.mjs';

describe('events', () => {
  let b, operator;
  before(async () => {
    b = await browser();
    operator = await account('events-op', ['USER', 'OPERATOR']);
  });
  after(async () => b && (await b.close()));

  test("the server's field error is shown at its field (endsAt before startsAt)", async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/events/new');
    await page.getByLabel('Title').fill('backwards window');
    await page.getByLabel('Starts at (UTC)').fill(localInput(2 * 86_400_000));
    await page.getByLabel('Ends at (UTC)').fill(localInput(86_400_000));
    const resp = page.waitForResponse((r) => r.url().endsWith('/events') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Create draft' }).click();
    const r = await resp;
    assert.ok([400, 422].includes(r.status()), `status ${r.status()}`);
    const err = page.locator('[data-field="endsAt"] [data-error-for="endsAt"]');
    await err.waitFor();
    assert.match(await err.innerText(), /after startsAt/);
    assert.equal(await page.getByLabel('Ends at (UTC)').getAttribute('aria-invalid'), 'true');
    // A nested field too: an ITEM reward without its item code.
    await page.getByLabel('Ends at (UTC)').fill(localInput(3 * 86_400_000));
    await page.getByLabel('Reward 1 type').selectOption('ITEM');
    await page.getByRole('button', { name: 'Create draft' }).click();
    const err2 = page.locator('[data-error-for="rewards[0].itemCode"]');
    await err2.waitFor();
    assert.match(await err2.innerText(), /required/);
    assert.equal(await page.locator('[data-error-for="endsAt"]').count(), 0, 'old error cleared');
    b.assertClean();
  });

  test('an operator creates a draft with conditions, rewards and stock, edits it, activates and pauses it', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/events/new');
    const title = `Weekend login ${Date.now()}`;
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Description').fill('Log in twice, get gems');
    await page.getByLabel('Starts at (UTC)').fill(localInput(-3_600_000));
    await page.getByLabel('Ends at (UTC)').fill(localInput(5 * 86_400_000));
    await page.getByLabel('Timezone (days and resets)').fill('Asia/Seoul');
    await page.getByLabel('Stock for the whole event (maxClaims)').fill('25');
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Condition 1 type').selectOption('LOGIN_DAYS');
    await page.getByLabel('Threshold').fill('2');
    await page.getByRole('button', { name: 'Add reward' }).click();
    await page.getByLabel('Reward 2 type').selectOption('ITEM');
    await page.getByLabel('Item code').fill('gem');
    await page.getByLabel('Quantity').nth(1).fill('3');
    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.getByRole('heading', { name: 'Edit event' }).waitFor();
    await page.locator('.badge', { hasText: 'DRAFT' }).first().waitFor();
    const id = page.url().split('#/events/')[1];
    const ev = (await api('GET', `/events/${id}`, { token: operator.token })).data;
    assert.equal(ev.title, title);
    assert.equal(ev.maxClaims, 25);
    assert.equal(ev.timezone, 'Asia/Seoul');
    assert.deepEqual(ev.conditions, [{ type: 'LOGIN_DAYS', threshold: 2 }]);
    assert.deepEqual(ev.rewards, [{ type: 'POINT', quantity: 100 }, { type: 'ITEM', itemCode: 'gem', quantity: 3 }]);

    // Edit: the version travels with the PATCH.
    await page.getByLabel('Description').fill('Log in twice this week, get gems');
    // Unsaved edits block status changes (they send only the status).
    assert.equal(await page.getByRole('button', { name: 'Activate…' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await api('GET', `/events/${id}`, { token: operator.token })).data.description, 'Log in twice this week, get gems');

    // Activate: the forecast (or the server's reason it has none) comes first.
    await page.getByRole('button', { name: 'Activate…' }).click();
    const forecast = page.getByTestId('forecast');
    await forecast.waitFor();
    // Wait for the forecast's answer: its figures, or the server's error.
    await forecast.getByTestId('forecast-qualifying').or(forecast.locator('.alert.error')).first().waitFor();
    const confirm = forecast.getByRole('button', { name: /Confirm activation|Activate without forecast/ });
    if ((await confirm.innerText()).includes('without')) assert.match(await forecast.innerText(), /404/);
    else assert.match(await forecast.getByTestId('forecast-qualifying').innerText(), /^\d+$/);
    await confirm.click();
    await page.getByText('Activated.').waitFor();
    assert.equal((await api('GET', `/events/${id}`, { token: operator.token })).data.status, 'ACTIVE');

    // Pause needs SPEC §8's PAUSED status; show the server's answer either way.
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText(/Paused: new claims|400|422/).first().waitFor();
    const status = (await api('GET', `/events/${id}`, { token: operator.token })).data.status;
    if (status === 'PAUSED') {
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.getByText('Resumed.').waitFor();
    } else {
      assert.equal(status, 'ACTIVE');
      assert.ok(await page.locator('.alert.error').count(), 'the refusal is shown');
    }

    // Duplicate as draft: same settings, new title, nothing saved until "Create draft".
    await page.getByRole('link', { name: 'Duplicate as draft' }).click();
    await page.getByRole('heading', { name: 'New event' }).waitFor();
    await page.waitForFunction((t) => document.querySelector('#f-title')?.value === `${t} (copy)`, title);
    assert.equal(await page.getByLabel('Stock for the whole event (maxClaims)').inputValue(), '25');
    assert.equal(await page.getByLabel('Item code').inputValue(), 'gem');
    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.getByRole('heading', { name: 'Edit event' }).waitFor();
    await page.locator('.badge', { hasText: 'DRAFT' }).first().waitFor();

    // The list shows it with status, window, stock and today's approvals, on the timeline too.
    await go(page, '/events');
    const row = page.locator(`tr[data-event-id="${id}"]`);
    await row.waitFor();
    assert.match(await row.getByTestId('stock-left').innerText(), /25/);
    assert.match(await row.getByTestId('approved-today').innerText(), /^0$/);
    await page.locator(`.tl-row[data-event-id="${id}"]`).waitFor();
    // Finding by title narrows the table and the timeline to the event and its copy; by id, to it alone.
    await page.getByLabel('Find by title or id').fill(title);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-table"] tbody tr').length === 2);
    assert.equal(await page.locator('.tl-row').count(), 2);
    await page.getByLabel('Find by title or id').fill(id);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-table"] tbody tr').length === 1);
    assert.equal(await page.locator('.tl-row').count(), 1);
    b.assertClean();
  });

  test('the events list and editor are keyboard usable', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/events');
    // Tab from the top reaches the skip link, then the navigation links, each with a visible focus.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return { tag: el?.tagName, text: el?.textContent, outline: getComputedStyle(el).outlineStyle };
    });
    assert.equal(focused.tag, 'A');
    assert.notEqual(focused.outline, 'none');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash !== '#/events');
    b.assertClean();
  });
});
