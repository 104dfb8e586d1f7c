#!/usr/bin/env node
// Check or rewrite HCL files with HashiCorp's hclwrite formatter (`terraform fmt` rules),
// compiled to wasm in @cdktf/hcl-tools, so no terraform binary is needed.
//
//   node tests/infra/hcl_format.mjs [--write] PATH...   (files or directories)
//
// Directories are walked for *.tf, *.tfvars and *.tftest.hcl (skipping .terraform/).
// Without --write: prints each file that is not formatted and exits 1 if any.
// With --write: rewrites those files in place and prints their names.
import { createRequire } from "node:module";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(repoRoot, "package.json"));
const { format } = require("@cdktf/hcl-tools");

const SUFFIXES = [".tf", ".tfvars", ".tftest.hcl"];

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === ".terraform") continue;
      collect(join(path, name), out);
    }
  } else if (SUFFIXES.some((s) => path.endsWith(s))) {
    out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const write = args.includes("--write");
const targets = args.filter((a) => a !== "--write");
if (targets.length === 0) {
  console.error("usage: hcl_format.mjs [--write] PATH...");
  process.exit(2);
}

const files = [];
for (const target of targets) collect(target, files);
const differ = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const formatted = await format(text);
  if (formatted !== text) {
    differ.push(file);
    if (write) writeFileSync(file, formatted);
  }
}
for (const file of differ) console.log(file);
process.exit(!write && differ.length ? 1 : 0);
