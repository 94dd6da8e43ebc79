import { expect } from "chai";
import path from "node:path";
import { build } from "esbuild";

/**
 * The SDK's main entry is for browsers as much as for Node: bundling it for the browser platform must succeed with
 * no Node built-in and no native addon in the graph (esbuild fails the build on `node:*` imports it cannot resolve
 * for the browser). The `/node` entry is the only place for those.
 */
describe("sdk browser entry", function () {
  it("bundles for the browser with no node:* module and no native addon", async function () {
    const result = await build({
      entryPoints: [path.resolve(import.meta.dirname, "../src/index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => p.startsWith("node:") || /secp256k1\/(bindings|build|prebuilds)/.test(p))).to.deep.equal([]);
    expect(inputs.some((p) => p.includes("packages/sdk/src/node.ts"))).to.equal(false);
    expect(inputs.some((p) => p.includes("packages/sdk/src/market.ts"))).to.equal(true);
  });

  it("the /node entry is where Node built-ins come in (the check above can fail)", async function () {
    const failure = await build({
      entryPoints: [path.resolve(import.meta.dirname, "../src/node.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    }).then(
      () => undefined,
      (error: { errors?: { text: string }[] }) => error,
    );
    expect(failure?.errors?.some((e) => /node:fs|node:module|node:path/.test(e.text))).to.equal(true);
  });
});
