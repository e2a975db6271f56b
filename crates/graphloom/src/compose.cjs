// Composes the subgraphs read as JSON from stdin ([{name, url, sdl}]) with
// each composer installed in GRAPHLOOM_COMPOSER_DIR (Apollo's and The
// Guild's), and prints one JSON report per composer. Run by graphloom's
// `compose` module; packages resolve from that folder, not from here.
'use strict';
const { createRequire } = require('node:module');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const from = createRequire(join(process.env.GRAPHLOOM_COMPOSER_DIR, 'package.json'));
const load = (name) => {
  try {
    return from(name);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${name}'`)) return null;
    throw e;
  }
};
const version = (name) => {
  try {
    return from(`${name}/package.json`).version;
  } catch {
    return 'unknown';
  }
};

const graphql = load('graphql');
const input = JSON.parse(readFileSync(0, 'utf8'));
const reports = [];
for (const name of ['@apollo/composition', '@theguild/federation-composition']) {
  const composer = load(name);
  if (!composer) continue;
  const report = { composer: `${name} ${version(name)}`, errors: [], hints: [], supergraph: null };
  reports.push(report);
  if (!graphql) {
    report.errors.push("the package 'graphql' is missing beside the composer");
    continue;
  }
  const services = [];
  for (const s of input) {
    try {
      services.push({ name: s.name, url: s.url, typeDefs: graphql.parse(s.sdl) });
    } catch (e) {
      report.errors.push(`${s.name}: ${e.message}`);
    }
  }
  if (report.errors.length) continue;
  const result = composer.composeServices(services);
  report.errors = (result.errors ?? []).map((e) => e.message);
  report.hints = (result.hints ?? []).map((h) => h.message);
  report.supergraph = result.supergraphSdl ?? null;
}
process.stdout.write(JSON.stringify(reports));
