// The ssh target's reach check (templates/scripts/remote/check-host.sh) run by bash on this
// machine with a stand-in nginx binary: what it demands of the nginx host in each switch mode.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SCRIPTS } from "../../components/scripts";
import { type ScriptRun, runHostScript } from "../support/hostScript";
import { needsRoot } from "../support/root";

describe("reach check of the nginx host (ssh target)", () => {
    let dir: string;
    let modules: string;
    let fakeNginx: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-check-host-"));
        modules = path.join(dir, "modules");
        fs.mkdirSync(modules);
        // An nginx whose `-V` names our modules directory, as Debian's does /usr/lib/nginx/modules.
        fakeNginx = path.join(dir, "nginx");
        fs.writeFileSync(
            fakeNginx,
            `#!/bin/sh\necho "configure arguments: --prefix=/usr/share/nginx ` +
                `--modules-path=${modules} --with-http_ssl_module" >&2\n`,
            { mode: 0o755 },
        );
    });

    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /**
     * An apt-get stand-in first on PATH: `installs` puts the module files in place, or it fails
     * as apt-get does offline.
     */
    function fakeAptGet(installs: boolean): string {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const install = installs
            ? `touch "${modules}/ngx_http_lua_module.so" "${modules}/ndk_http_module.so"`
            : `echo "E: Unable to locate package $7" >&2; exit 100`;
        fs.writeFileSync(
            path.join(bin, "apt-get"),
            `#!/bin/sh\necho "$*" >>"${dir}/apt-get.log"\n[ "$1" = update ] && exit 0\n${install}\n`,
            { mode: 0o755 },
        );
        return bin;
    }

    function check(
        switchMode: string,
        aptGet: "installs" | "fails" = "fails",
        remoteDir = path.join(dir, "srv"),
    ): ScriptRun {
        return runHostScript(
            SCRIPTS.checkHost,
            {
                HOST_NAME: "nginx",
                ROLE: "nginx",
                REMOTE_DIR: remoteDir,
                SWITCH_MODE: switchMode,
                NGINX_BIN: fakeNginx,
                CHECK_TRIGGER: "test",
            },
            { env: { PATH: `${fakeAptGet(aptGet === "installs")}:${process.env.PATH}` } },
        );
    }

    it("installs the Lua module with apt-get when no-reload is chosen and it is missing", function () {
        // Installing needs root (or passwordless sudo). CI runs as root and sets
        // BLUEGREEN_REQUIRE_NETNS, so there this can never be skipped.
        needsRoot(this, "installing a package needs root");
        const run = check("no-reload", "installs");
        assert.equal(run.code, 0, run.output);
        assert.match(
            run.output,
            /nginx: installing nginx's Lua module for switchMode no-reload \(apt-get install libnginx-mod-http-lua\)/,
        );
        assert.match(
            fs.readFileSync(path.join(dir, "apt-get.log"), "utf8"),
            /install -y -qq --no-install-recommends libnginx-mod-http-lua/,
        );
        assert.ok(fs.existsSync(path.join(modules, "ngx_http_lua_module.so")));
        assert.match(run.output, /reachable as/);
    });

    it("no-reload, Lua module missing and uninstallable: fails before any deploy, naming package and fallback", () => {
        const run = check("no-reload");
        assert.equal(run.code, 1, run.output);
        assert.match(
            run.output,
            new RegExp(
                `${modules.replace(/[/.]/g, "\\$&")}/ngx_http_lua_module\\.so ` +
                    `\\(or ndk_http_module\\.so\\) is missing on nginx`,
            ),
        );
        assert.match(run.output, /apt-get install libnginx-mod-http-lua/);
        assert.match(run.output, /pulumi config set switchMode reload/);
        assert.doesNotMatch(run.output, /reachable as/);
    });

    it("passes in no-reload mode once the module and its NDK are installed", () => {
        fs.writeFileSync(path.join(modules, "ngx_http_lua_module.so"), "");
        fs.writeFileSync(path.join(modules, "ndk_http_module.so"), "");
        const run = check("no-reload");
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /nginx \(nginx\): reachable as .*, tools present, .* writable/);
        assert.ok(!fs.existsSync(path.join(dir, "apt-get.log")), "nothing was installed");
    });

    it("refuses a remoteDir that others can write, or under a directory they can, naming it", () => {
        const shared = path.join(dir, "shared");
        fs.mkdirSync(shared);
        fs.chmodSync(shared, 0o777);
        const under = check("reload", "fails", path.join(shared, "bluegreen"));
        assert.notEqual(under.code, 0);
        assert.match(
            under.output,
            /remoteDir \S+\/shared\/bluegreen is not private: \S+\/shared is writable by others \(mode 777\)/,
        );
        fs.chmodSync(shared, 0o755);
        fs.mkdirSync(path.join(shared, "open"));
        fs.chmodSync(path.join(shared, "open"), 0o757);
        const open = check("reload", "fails", path.join(shared, "open"));
        assert.match(open.output, /\S+\/shared\/open is writable by others \(mode 757\)/);
        // Sticky, as /tmp is: others cannot touch what is ours there.
        fs.chmodSync(shared, 0o1777);
        assert.equal(check("reload", "fails", path.join(shared, "bluegreen")).code, 0);
    });

    it("a root login's pool host: makes the app's system user, and refuses a remoteDir it cannot reach", function () {
        needsRoot(this, "making a system user needs root");
        // A name of its own, made by the check and removed here: the real one (bluegreen-app) may exist.
        const user = `bg-test-${process.pid}`;
        const run = (remoteDir: string) =>
            runHostScript(SCRIPTS.checkHost, {
                HOST_NAME: "blue-1",
                ROLE: "blue",
                REMOTE_DIR: remoteDir,
                SWITCH_MODE: "no-reload",
                RUN_AS: user,
                CHECK_TRIGGER: "test",
            });
        try {
            assert.notEqual(spawnSync("id", [user]).status, 0, "the user does not exist yet");
            fs.chmodSync(dir, 0o755);
            const made = run(path.join(dir, "srv"));
            assert.equal(made.code, 0, made.output);
            assert.match(made.output, new RegExp(`blue-1 \\(blue\\): reachable as root@.*, runs it as ${user}`));
            const entry = spawnSync("getent", ["passwd", user], { encoding: "utf8" }).stdout.trim().split(":");
            assert.ok(Number(entry[2]) < 1000, `a system user (uid ${entry[2]})`);
            assert.equal(entry[5], "/nonexistent", "no home");
            assert.match(entry[6], /nologin|false/, "no login shell");
            assert.equal(spawnSync("id", ["-gn", user], { encoding: "utf8" }).stdout.trim(), user, "its own group");
            assert.equal(run(path.join(dir, "srv")).code, 0, "a second check finds it made");
            // A remoteDir below a directory only root may enter: the app could never read its release.
            const closed = path.join(dir, "closed");
            fs.mkdirSync(closed, { mode: 0o700 });
            const refused = run(path.join(closed, "srv"));
            assert.equal(refused.code, 1, refused.output);
            assert.match(refused.output, new RegExp(`${user} .*cannot enter ${closed}, above remoteDir`));
            assert.match(refused.output, new RegExp(`Fix: chmod o\\+x ${closed}`));
        } finally {
            spawnSync("userdel", [user]);
        }
    });

    it("does not ask for the module in reload mode", () => {
        const run = check("reload");
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /reachable as/);
        assert.ok(!fs.existsSync(path.join(dir, "apt-get.log")), "nothing was installed");
    });
});
