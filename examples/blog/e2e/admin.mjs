// The blog's admin (/admin) in Debian's Chromium, as staff would use it:
// log in with the keyboard, add a post with two tags (a validation error
// first, then fixed), search and filter the list, edit, delete with the
// confirmation; then a user who is not staff is refused, and a staff user
// without `blog.delete_post` gets no delete. Screenshots of the list and
// the edit page are kept. Fails on any page error or request to another
// origin. Usage: node admin.mjs <base URL> <screenshot dir>
import { launch } from './browser.mjs';

const [base, dir] = process.argv.slice(2);
if (!base || !dir) {
  console.error('usage: node admin.mjs <base URL> <screenshot dir>');
  process.exit(2);
}
const PASSWORD = process.env.DEMO_PASSWORD ?? 'graphloom-demo';
const browser = await launch();
const problems = [];
const foreign = [];

async function page() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const p = await context.newPage();
  p.on('request', (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });
  p.on('pageerror', (e) => problems.push(`page error: ${e}`));
  p.on('console', (m) => {
    // The refusals this script provokes (422, 403) are logged as failed loads.
    const expected = /status of 4\d\d/.test(m.text());
    if (m.type() === 'error' && !expected && !m.location().url.endsWith('/favicon.ico')) {
      problems.push(`console: ${m.text()} (${m.location().url})`);
    }
  });
  return p;
}

function expect(what, ok) {
  if (!ok) throw new Error(`failed: ${what}`);
}

async function login(p, user, { keyboard = false } = {}) {
  await p.goto(`${base}/admin/`);
  expect('sent to the login page', p.url().includes('/admin/login'));
  const login = p.getByLabel('Username or email');
  await login.waitFor();
  if (keyboard) {
    // From the login field (it has autofocus; focused here so typing never
    // races the page), Tab moves to the password and Enter sends the form.
    await login.focus();
    await p.keyboard.type(user);
    await p.keyboard.press('Tab');
    await p.keyboard.type(PASSWORD);
    await Promise.all([p.waitForNavigation({ waitUntil: 'load' }), p.keyboard.press('Enter')]);
  } else {
    await login.fill(user);
    await p.getByLabel('Password').fill(PASSWORD);
    await Promise.all([
      p.waitForNavigation({ waitUntil: 'load' }),
      p.getByRole('button', { name: 'Log in' }).click(),
    ]);
  }
}

try {
  const p = await page();
  await login(p, 'user1', { keyboard: true });
  await p.getByRole('heading', { name: 'Site administration' }).waitFor();

  // Add a post with two tags: a blank title is refused beside the field.
  await p.getByRole('link', { name: 'posts', exact: true }).click();
  await p.getByRole('link', { name: 'Add Post' }).click();
  await p.getByLabel('title').fill('   ');
  await p.getByLabel('slug').fill('from-the-browser');
  await p.getByLabel('body').fill('Written in the admin.');
  await p.getByLabel('tags').selectOption(['1', '2']);
  await p.getByRole('button', { name: 'Save' }).click();
  await p.getByText('The title cannot be blank.').waitFor();
  expect('the error is tied to its field', await p.getByLabel('title').getAttribute('aria-invalid') === 'true');
  await p.getByLabel('title').fill('E2E admin post');
  await p.getByLabel('tags').selectOption(['1', '2']);
  await p.getByRole('button', { name: 'Save' }).click();
  await p.getByText('Added.').waitFor();
  const selected = await p.$$eval('#f-tags option:checked', (o) => o.length);
  expect(`two tags kept (${selected})`, selected === 2);
  const editUrl = p.url().replace(/\?.*$/, '');

  // Search and filter the list.
  await p.goto(`${base}/admin/blog/post/`);
  await p.getByLabel('Search posts').fill('E2E admin');
  await p.getByRole('button', { name: 'Search' }).click();
  await p.getByText('1 row', { exact: true }).waitFor();
  await p.goto(`${base}/admin/blog/post/`);
  await p.getByRole('complementary', { name: 'Filters' }).getByRole('link', { name: 'Draft' }).click();
  await p.getByText('2 rows', { exact: true }).waitFor();
  await p.goto(`${base}/admin/blog/post/?o=-title`);
  await p.screenshot({ path: `${dir}/admin-list.png`, fullPage: true });

  // Edit.
  await p.goto(editUrl);
  await p.getByLabel('title').fill('E2E admin post, edited');
  await p.getByLabel('status').selectOption('published');
  await p.screenshot({ path: `${dir}/admin-edit.png`, fullPage: true });
  await p.getByRole('button', { name: 'Save' }).click();
  await p.getByText('Saved.').waitFor();
  await p.getByRole('link', { name: 'History' }).click();
  await p.getByText('status: "draft" → "published"').waitFor();

  // Delete, after the confirmation.
  await p.goto(editUrl);
  await p.getByRole('link', { name: 'Delete' }).click();
  await p.getByRole('heading', { name: /^Delete Post/ }).waitFor();
  await p.getByRole('button', { name: 'Yes, delete' }).click();
  await p.getByText('5 rows', { exact: true }).waitFor();

  // Not staff: refused, with no session.
  const stranger = await page();
  await login(stranger, 'user3');
  await stranger.getByText('This account cannot use the admin.').waitFor();

  // Staff without blog.delete_post: user2 made staff with the other post
  // permissions, through the API as the superuser.
  const gql = async (query, variables, token) => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()).data;
  };
  const token = (await gql('mutation($p: String!) { login(input: { login: "user1", password: $p }) { accessToken } }', { p: PASSWORD })).login.accessToken;
  const perms = await gql('{ permissions(where: { codename: { in: ["blog.add_post", "blog.change_post", "blog.view_post"] } }, first: 10) { nodes { id } } }', {}, token);
  const ids = perms.permissions.nodes.map((n) => n.id);
  await gql('mutation($p: [ID!]!) { updateUser(id: "2", input: { isStaff: true, userPermissions: { set: $p } }) { errors { code } } }', { p: ids }, token);
  const editor = await page();
  await login(editor, 'user2');
  await editor.goto(`${base}/admin/blog/post/1/`);
  expect('no delete link', (await editor.getByRole('link', { name: 'Delete' }).count()) === 0);
  const refused = await editor.goto(`${base}/admin/blog/post/1/delete`);
  expect(`delete refused (${refused.status()})`, refused.status() === 403);

  if (foreign.length) throw new Error(`requests to other origins: ${foreign.join(', ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`the admin: login, add with an error fixed, search, filter, edit, history, delete, refusals; screenshots in ${dir}`);
} finally {
  await browser.close();
}
