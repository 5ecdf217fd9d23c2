// Allure 3's awesome report of an Allure results folder, one file that opens from disk, through
// its Node API: node generate.mjs <allure-results> <out>. Run from bench/tmp/allure3 (its node_modules).
import process from 'node:process';
import { AllureReport, resolveConfig } from '@allurereport/core';

const [results, out, name = 'driftless'] = process.argv.slice(2);
if (!results || !out) throw new Error('usage: node generate.mjs <allure-results> <out> [report name]');
const config = await resolveConfig({ name, output: out, plugins: { awesome: { options: { singleFile: true, reportName: name } } } });
const report = new AllureReport(config);
await report.start();
await report.readDirectory(results);
await report.done();
