// npm run recover's decisions on their own (scripts/ops/recover.ts): which processes are a
// killed update's, where a file backend lives, what it repairs in a backend laid out as the
// CLI lays it out, and which pending creates it will not run again blindly.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RecoverError, fileBackendDir, pendingCreates, repairFileBackend, roleOf } from "../../scripts/ops/recover";

describe("npm run recover", () => {
    it("knows Pulumi's processes and the host scripts, and nothing else, by command line", () => {
        const script = ["BLUEGREEN_ON_UPDATE=need HOST_NAME", "PATH=/usr/bin"];
        assert.equal(roleOf(["/root/.pulumi/bin/pulumi", "up", "--yes"], []), "pulumi CLI");
        assert.equal(roleOf(["/root/.pulumi/bin/pulumi-language-nodejs", "-root", "/p"], []), "language host");
        assert.equal(
            roleOf(["/root/.pulumi/plugins/resource-command-v1.2.1/pulumi-resource-command"], []),
            "command plugin",
        );
        assert.equal(roleOf(["/usr/bin/node", "/p/node_modules/@pulumi/pulumi/cmd/run", "."], []), "program");
        assert.equal(
            roleOf(["/bin/bash", "-c", "set -euo pipefail ...", "deploy-host.sh"], script),
            "host script deploy-host.sh",
        );
        assert.equal(
            roleOf(["nginx: master process nginx -p /p/.state/local/nginx/"], script),
            undefined,
            "nginx inherits the script's environment but is not a script",
        );
        assert.equal(roleOf(["node", "server.js"], []), undefined, "an app");
        assert.equal(roleOf(["/bin/bash", "-c", "make"], ["PATH=/usr/bin"]), undefined, "someone else's shell");
        assert.equal(roleOf(["/bin/bash"], script), undefined, "an interactive shell");
    });

    it("finds a file backend's directory, ~ and query included; other backends have none", () => {
        assert.equal(fileBackendDir("file:///srv/state"), "/srv/state");
        assert.equal(fileBackendDir("file:///srv/state?no_tmp_dir=true"), "/srv/state");
        assert.equal(fileBackendDir("file://~"), os.homedir());
        assert.equal(fileBackendDir("file://~/state"), path.join(os.homedir(), "state"));
        assert.equal(fileBackendDir("s3://bucket/state"), undefined);
        assert.equal(fileBackendDir(undefined), undefined);
    });

    it("stops at a pending create of a cloud resource, not of a command", () => {
        const op = (type: string, resourceType: string) => ({
            type,
            resource: { urn: `urn:pulumi:s::p::${resourceType}::x`, type: resourceType },
        });
        assert.deepEqual(pendingCreates({}), []);
        assert.deepEqual(
            pendingCreates({
                pending_operations: [
                    op("creating", "command:remote:Command"),
                    op("updating", "aws:ec2/instance:Instance"),
                ],
            }),
            [],
        );
        assert.deepEqual(pendingCreates({ pending_operations: [op("creating", "aws:ec2/instance:Instance")] }), [
            "urn:pulumi:s::p::aws:ec2/instance:Instance::x",
        ]);
    });

    describe("repairs a file backend", () => {
        let backend: string;
        let stacks: string;
        const good = (n: number) =>
            JSON.stringify({
                version: 3,
                checkpoint: { stack: "organization/bluegreen/local", latest: { resources: new Array(n).fill({}) } },
            });

        beforeEach(() => {
            backend = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-backend-"));
            stacks = path.join(backend, ".pulumi", "stacks", "bluegreen");
            fs.mkdirSync(stacks, { recursive: true });
            fs.writeFileSync(path.join(stacks, "local.json"), good(5));
            fs.writeFileSync(path.join(stacks, "local.json.attrs"), '{"user.cache_control":""}');
        });

        afterEach(() => fs.rmSync(backend, { recursive: true, force: true }));

        it("leaves a healthy backend alone", () => {
            assert.deepEqual(repairFileBackend(backend, "bluegreen", "local"), []);
            assert.equal(fs.readFileSync(path.join(stacks, "local.json"), "utf8"), good(5));
        });

        it("removes an empty .attrs (the EOF) and keeps it under .pulumi/recovered", () => {
            fs.writeFileSync(path.join(stacks, "local.json.attrs"), "");
            const done = repairFileBackend(backend, "bluegreen", "local", new Date("2026-12-02T03:00:00Z"));
            assert.deepEqual(done, [
                "removed the empty metadata file .pulumi/stacks/bluegreen/local.json.attrs " +
                    '(a write the kill cut short; the CLI read it as "EOF")',
            ]);
            assert.ok(!fs.existsSync(path.join(stacks, "local.json.attrs")));
            assert.ok(
                fs.existsSync(
                    path.join(
                        backend,
                        ".pulumi",
                        "recovered",
                        "2026-12-02T03-00-00-000Z",
                        "stacks",
                        "bluegreen",
                        "local.json.attrs",
                    ),
                ),
            );
        });

        it("restores a checkpoint that is not whole JSON from .bak, or else from the newest backup", () => {
            const backups = path.join(backend, ".pulumi", "backups", "bluegreen", "local");
            fs.mkdirSync(backups, { recursive: true });
            fs.writeFileSync(path.join(backups, "local.1700000000000000000.json"), good(1));
            fs.writeFileSync(path.join(backups, "local.1800000000000000000.json"), good(2));
            fs.writeFileSync(path.join(stacks, "local.json"), good(5).slice(0, 20));
            fs.writeFileSync(path.join(stacks, "local.json.bak"), "");
            const [line] = repairFileBackend(backend, "bluegreen", "local");
            assert.match(
                line,
                new RegExp(
                    "the checkpoint \\.pulumi/stacks/bluegreen/local\\.json was not whole JSON " +
                        "\\(kept as \\.pulumi/recovered/\\S+\\); restored the last good one, " +
                        "\\.pulumi/backups/bluegreen/local/local\\.1800000000000000000\\.json",
                ),
            );
            assert.equal(
                fs.readFileSync(path.join(stacks, "local.json"), "utf8"),
                good(2),
                "the newest whole backup, since .bak is empty too",
            );
            assert.ok(
                !fs.existsSync(path.join(stacks, "local.json.attrs")),
                "the old metadata no longer describes the file",
            );
        });

        it("says what to do when no whole copy is left", () => {
            fs.writeFileSync(path.join(stacks, "local.json"), "");
            assert.throws(
                () => repairFileBackend(backend, "bluegreen", "local"),
                (err: Error) =>
                    err instanceof RecoverError &&
                    new RegExp(
                        "neither \\S+local\\.json\\.bak nor any file in \\S+ holds a whole one\\. " +
                            "Restore one from your own backup",
                    ).test(err.message),
            );
        });
    });
});
