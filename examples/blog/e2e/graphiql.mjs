// Loads the blog's self-hosted GraphiQL in Debian's Chromium, runs a query
// through the UI (the editor, the run button, the response pane) and keeps
// a screenshot; then a subscription, whose event (a write made meanwhile)
// shows in the response pane. Fails if the page asks anything of another origin or
// throws. Usage: node graphiql.mjs <base URL> <screenshot path>
import { launch } from './browser.mjs';

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.error('usage: node graphiql.mjs <base URL> <screenshot path>');
  process.exit(2);
}
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const foreign = [];
  const problems = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('console', (m) => {
    // The browser's own favicon request is the one 404 a page gets.
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) {
      problems.push(`console: ${m.text()} (${m.location().url})`);
    }
  });
  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  const editor = '.graphiql-query-editor .CodeMirror';
  await page.waitForSelector(editor, { timeout: 20000 });
  // CodeMirror 5 keeps its instance on its element; typing would fight its
  // bracket closing.
  const query = '{ posts(first: 2) { nodes { title author { username } } } }';
  await page.$eval(editor, (el, q) => el.CodeMirror.setValue(q), query);
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-response')?.innerText.includes('username'),
    null,
    { timeout: 20000 },
  );
  const response = await page.$eval('.graphiql-response', (el) => el.innerText);
  await page.screenshot({ path: shot });
  if (!response.includes('"posts"') || !response.includes('"title"')) {
    throw new Error(`unexpected response:\n${response}`);
  }
  // A subscription: GraphiQL streams it over Server-Sent Events.
  await page.$eval(editor, (el, q) => el.CodeMirror.setValue(q), 'subscription { postChanged { kind node { title } } }');
  await page.click('.graphiql-execute-button');
  const gql = async (query, variables, token) => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()).data;
  };
  const token = (await gql('mutation($p: String!) { login(input: { login: "user1", password: $p }) { accessToken } }',
    { p: 'graphloom-demo' })).login.accessToken;
  // Written until the event shows (the stream opens as the button is pressed).
  let shown = false;
  for (let i = 0; i < 40 && !shown; i++) {
    await gql(`mutation { updatePost(id: "1", input: { title: "Live in GraphiQL ${i}" }) { errors { code } } }`, {}, token);
    shown = await page.waitForFunction(
      () => document.querySelector('.graphiql-response')?.innerText.includes('Live in GraphiQL'),
      null,
      { timeout: 500 },
    ).then(() => true, () => false);
  }
  if (!shown) {
    const now = await page.$eval('.graphiql-response', (el) => el.innerText);
    throw new Error(`the subscription event never showed in GraphiQL; the pane:\n${now}`);
  }
  if (foreign.length) throw new Error(`requests to other origins: ${foreign.join(', ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`GraphiQL ran a query and a subscription through its UI; screenshot: ${shot}`);
} finally {
  await browser.close();
}
