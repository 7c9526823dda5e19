// Validate Teams app manifests with Microsoft's official @microsoft/app-manifest package, offline.
//
//   node tests/js/validate_manifest.mjs path/to/manifest.json [more.json ...]
//
// Prints one JSON object: {"results": [{"file", "schema", "errors": [...]}, ...]}.
// Exit status: 0 when every manifest is valid, 1 when any has errors, 2 on a usage or setup problem.
//
// The package fetches a manifest's $schema over the network unless it ships that schema. This
// script only ever uses the bundled copy: it resolves the local file itself, passes the schema in
// explicitly, and replaces the package's fetch helper and global fetch with ones that refuse, so a
// manifest pointing at an unbundled schema fails here instead of reaching the internet.
import Module, { createRequire } from "node:module";
import fs from "node:fs";

const require = createRequire(import.meta.url);

// @microsoft/app-manifest 1.1.2 requires fs-extra at run time but lists it only as a dev
// dependency, so `npm ci` does not install it. When it is absent, answer `require("fs-extra")`
// with the five functions the package calls, built on node:fs. Remove once package.json lists
// fs-extra itself.
function provideFsExtraIfMissing() {
  const pkgRequire = createRequire(require.resolve("@microsoft/app-manifest"));
  try {
    pkgRequire.resolve("fs-extra");
    return;
  } catch {
    // fall through to the shim
  }
  const shim = {
    ...fs,
    pathExists: (p) => fs.promises.access(p).then(() => true, () => false),
    readFile: (p, options) => fs.promises.readFile(p, options),
    readFileSync: (p, options) => fs.readFileSync(p, options),
    writeFile: (p, data, options) => fs.promises.writeFile(p, data, options),
    writeJson: (p, obj) => fs.promises.writeFile(p, JSON.stringify(obj, null, 2) + "\n"),
  };
  const original = Module._load;
  Module._load = function load(request, parent, isMain) {
    return request === "fs-extra" ? shim : original.call(this, request, parent, isMain);
  };
}
provideFsExtraIfMissing();

function refuseNetwork(url) {
  throw new Error(`network access refused (offline validation): ${url}`);
}
globalThis.fetch = async (url) => refuseNetwork(String(url));
require("@microsoft/app-manifest/build/fetchHelper").default = async (url) => refuseNetwork(String(url));

const { AppManifestUtils } = require("@microsoft/app-manifest");

function bundledSchemaPath(schemaUrl) {
  const suffix = schemaUrl ? AppManifestUtils.getLocalSchemaSuffix(schemaUrl) : undefined;
  if (!suffix) return undefined;
  return AppManifestUtils.getLocalSchemaCandidates(suffix).find((p) => fs.existsSync(p));
}

async function validate(file) {
  const result = { file, schema: null, errors: [] };
  let manifest;
  try {
    // readTeamsManifest runs the package's typed converter for the manifest version: it rejects
    // wrong types and enum values before the JSON Schema pass.
    manifest = await AppManifestUtils.readTeamsManifest(file);
  } catch (err) {
    result.errors.push(`type check: ${err.message}`);
    try {
      manifest = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (parseErr) {
      result.errors.push(`not JSON: ${parseErr.message}`);
      return result;
    }
  }
  const schemaPath = bundledSchemaPath(manifest.$schema);
  if (!schemaPath) {
    result.errors.push(`$schema ${JSON.stringify(manifest.$schema)} is not bundled with @microsoft/app-manifest`);
    return result;
  }
  result.schema = schemaPath;
  const schema = await AppManifestUtils.fetchSchema(manifest.$schema); // resolves to schemaPath, no network
  result.errors.push(...(await AppManifestUtils.validateAgainstSchema(manifest, schema)));
  return result;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: node tests/js/validate_manifest.mjs manifest.json [...]\n");
  process.exit(2);
}
const results = [];
for (const file of files) results.push(await validate(file));
process.stdout.write(JSON.stringify({ results }) + "\n");
process.exit(results.some((r) => r.errors.length) ? 1 : 0);
