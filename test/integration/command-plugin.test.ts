// The `command` plugin every suite runs with is the official pulumi-command binary, and
// scripts/toolchain/command-plugin.sh gets it, or refuses, as docs/setup.md says: any other
// plugin under that name is refused and replaced, a source tarball of another version is
// refused, and with no way to get it the error names all three.
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, pulumiBinDir } from "../../scripts/lib/pulumi";

const SCRIPT = path.join(REPO_ROOT, "scripts", "toolchain", "command-plugin.sh");
const VERSION: string = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, "node_modules", "@pulumi", "command", "package.json"), "utf8"),
).version;

describe("the official command plugin", function () {
    let env: NodeJS.ProcessEnv;
    let home: string;

    before(() => {
        env = { ...process.env, PATH: `${pulumiBinDir()}:${process.env.PATH ?? ""}`, PULUMI_SKIP_UPDATE_CHECK: "true" };
    });

    beforeEach(() => {
        home = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-plugin-"));
    });

    afterEach(() => {
        fs.rmSync(home, { recursive: true, force: true });
    });

    /** command-plugin.sh in a fresh PULUMI_HOME, where no download can succeed (a proxy that refuses). */
    function plugin(verb: string, extra: NodeJS.ProcessEnv = {}) {
        const run = spawnSync("bash", [SCRIPT, verb], {
            env: {
                ...env,
                PULUMI_HOME: home,
                HTTPS_PROXY: "http://127.0.0.1:9",
                HTTP_PROXY: "http://127.0.0.1:9",
                ...extra,
            },
            encoding: "utf8",
            timeout: 300_000,
        });
        return { status: run.status, output: `${run.stdout}${run.stderr}` };
    }

    it("pulumi loads the official Go binary of pulumi-command for @pulumi/command, at the version it asks for", () => {
        const file = execFileSync("bash", [SCRIPT, "verify"], { env, encoding: "utf8" }).trim();
        const listed = JSON.parse(execFileSync("pulumi", ["plugin", "ls", "--json"], { env, encoding: "utf8" })) as {
            name: string;
            kind: string;
            version: string;
        }[];
        assert.ok(
            listed.some((p) => p.name === "command" && p.kind === "resource" && p.version === VERSION),
            `pulumi plugin ls lists command ${VERSION}`,
        );
        const binary = fs.readFileSync(file);
        assert.equal(binary.subarray(0, 4).toString("latin1"), "\x7fELF", `${file} is a compiled binary`);
        assert.ok(
            binary.includes("path\tgithub.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command"),
            "built from pulumi-command's own main package",
        );
    });

    it("a plugin under that name that is not the official binary is refused by verify, and ensure replaces it", () => {
        const impostor = path.join(home, "pulumi-resource-command");
        fs.writeFileSync(impostor, '#!/bin/sh\nexec node provider.js "$@"\n', { mode: 0o755 });
        execFileSync("pulumi", ["plugin", "install", "resource", "command", VERSION, "--file", impostor], {
            env: { ...env, PULUMI_HOME: home },
        });
        const refused = plugin("verify");
        assert.notEqual(refused.status, 0);
        assert.match(
            refused.output,
            new RegExp(
                "is not the official pulumi-command binary\\. Remove it\\s+" +
                    "\\(pulumi plugin rm resource command [\\d.]+\\) and run npm start",
            ),
        );
        const replaced = plugin("ensure");
        assert.equal(replaced.status, 0, replaced.output);
        assert.match(replaced.output, /replacing \S+: it is not the official pulumi-command binary/);
        assert.match(
            replaced.output,
            /building the official command plugin v[\d.]+ from \S+pulumi-command-[\d.]+-src\.tar\.gz/,
        );
        assert.equal(plugin("verify").status, 0, "the official binary is in place");
    });

    it("a source tarball of another version is refused, naming the version @pulumi/command asks for", () => {
        const source = path.join(home, "src");
        fs.mkdirSync(path.join(source, "pulumi-command-0.9.0", "provider"), { recursive: true });
        const tarball = path.join(home, "pulumi-command-0.9.0-src.tar.gz");
        execFileSync("tar", ["-czf", tarball, "-C", source, "pulumi-command-0.9.0"]);
        const run = plugin("ensure", { BLUEGREEN_COMMAND_PLUGIN_SOURCE: tarball });
        assert.notEqual(run.status, 0);
        assert.match(
            run.output,
            new RegExp(
                `holds 'pulumi-command-0\\.9\\.0', ` +
                    `but @pulumi/command asks for plugin v${VERSION.replace(/\./g, "\\.")}`,
            ),
        );
    });

    it("with no plugin, no download and no source tarball, the error names the three ways to get it", () => {
        const run = plugin("ensure", { BLUEGREEN_COMMAND_PLUGIN_SOURCE: path.join(home, "missing.tar.gz") });
        assert.notEqual(run.status, 0);
        assert.match(
            run.output,
            /is not installed, cannot be downloaded here, and there is no source\s+tarball at \S+missing\.tar\.gz/,
        );
        assert.match(run.output, /pulumi plugin install resource command [\d.]+\n/);
        assert.match(run.output, /pulumi plugin install resource command [\d.]+ --file <pulumi-resource-command>/);
        assert.match(run.output, /BLUEGREEN_COMMAND_PLUGIN_SOURCE=<pulumi-command-[\d.]+ source \.tar\.gz> npm start/);
    });
});
