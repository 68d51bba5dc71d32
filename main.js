// What Pulumi runs (Pulumi.yaml `main`): the program compiled to bin/ by `npm run build`, when
// it is at least as new as every source it was compiled from. Through ts-node, every run would
// spend about 0.7 s compiling before it does anything, and `pulumi up` runs the program twice.
// A source edited since the last build is never run stale: the sources then run through ts-node.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const COMPILED_DIR = path.join(__dirname, "bin");

/** The program's sources (index.ts and components/), each with the file tsc compiles it to. */
function programSources() {
    const components = fs
        .readdirSync(path.join(__dirname, "components"), { recursive: true })
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.join("components", file));
    return ["index.ts", ...components].map((source) => ({
        source,
        compiled: path.join(COMPILED_DIR, source.replace(/\.ts$/, ".js")),
    }));
}

/** Why bin/ cannot run (a source newer than its compiled file, or none), or undefined when it can. */
function whyNotCompiled() {
    for (const { source, compiled } of programSources()) {
        const compiledAt = fs.statSync(compiled, { throwIfNoEntry: false })?.mtimeMs;
        if (compiledAt === undefined) return `${source} is not compiled yet`;
        if (fs.statSync(path.join(__dirname, source)).mtimeMs > compiledAt)
            return `${source} changed since the last build`;
    }
    return undefined;
}

const notCompiled = whyNotCompiled();
if (notCompiled === undefined) {
    // Pulumi's Node.js runtime formats every stack trace through source maps, and its SDK takes a
    // stack trace for each promise it makes: 0.7 s of a preview with 16 hosts per pool went to
    // mapping traces nobody reads. The compiled program goes without; its traces name bin/ files.
    Error.prepareStackTrace = undefined;
    module.exports = require(path.join(COMPILED_DIR, "index.js"));
} else {
    require("@pulumi/pulumi").log.info(
        `running the TypeScript sources (${notCompiled}); \`npm run build\` makes every run start about 0.7 s sooner`,
    );
    require("ts-node").register({ project: path.join(__dirname, "tsconfig.json"), transpileOnly: true });
    module.exports = require("./index.ts");
}
