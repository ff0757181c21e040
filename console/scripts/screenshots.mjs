// Screenshots of every console page at 1280x800 and 390 px wide into docs/console/.
// Creates its own demo data (an event with a stock, a few claims) on the platform it points at.
//   CONSOLE_BASE_URL=http://127.0.0.1:3000 CONSOLE_ADMIN_PASSWORD=... node scripts/screenshots.mjs
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { account, activate, admin, ADMIN_EMAIL, ADMIN_PASSWORD, api, browser, claim, createEvent, go, iso, signIn, signedIn } from '../tests/helpers.mjs';

const out = fileURLToPath(new URL('../../docs/console/', import.meta.url));
mkdirSync(out, { recursive: true });

const token = await admin();
const ev = await activate(
  token,
  await createEvent(token, {
    title: 'Winter login week',
    description: 'Log in 3 days during the week, get 500 points and a snow badge',
    startsAt: iso(-86_400_000),
    endsAt: iso(6 * 86_400_000),
    timezone: 'Asia/Seoul',
    conditions: [{ type: 'LOGIN_DAYS', threshold: 1 }],
    rewards: [{ type: 'POINT', quantity: 500 }, { type: 'ITEM', itemCode: 'snow-badge', quantity: 1 }],
    maxClaims: 1000,
  }),
);
await createEvent(token, { title: 'New year countdown (draft)', startsAt: iso(20 * 86_400_000), endsAt: iso(27 * 86_400_000), maxClaims: 200 });
const players = [];
for (let i = 0; i < 4; i++) {
  const p = await account(`shot${i}`);
  players.push(p);
  await claim(p.token, ev.id);
}

const b = await browser();
const shots = [
  ['events', '/events'],
  ['event-editor', `/events/${ev.id}`],
  ['live-view', `/events/${ev.id}/live`],
  ['claims', `/claims?eventId=${ev.id}`],
  ['user', `/users/${players[0].id}`],
  ['segments', '/segments'],
  ['grants', `/grants?eventId=${ev.id}`],
  ['audit', '/audit'],
];
for (const [width, height] of [[1280, 800], [390, 844]]) {
  const page = await b.page(width, height);
  await signIn(page, 'operator@example.test', '');
  await page.screenshot({ path: `${out}signin-${width}.png` });
  await signedIn(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  for (const [name, path] of shots) {
    await go(page, path);
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(name === 'live-view' ? 3500 : 600);
    await page.screenshot({ path: `${out}${name}-${width}.png` });
  }
  await page.close();
}
b.assertClean();
await b.close();
console.log(`screenshots in ${out}`);
void api;
