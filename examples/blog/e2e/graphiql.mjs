// Loads the blog's self-hosted GraphiQL in Debian's Chromium, runs a query
// through the UI (the editor, the run button, the response pane) and keeps
// a screenshot. Fails if the page asks anything of another origin or
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
  if (foreign.length) throw new Error(`requests to other origins: ${foreign.join(', ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`GraphiQL ran a query through its UI; screenshot: ${shot}`);
} finally {
  await browser.close();
}
