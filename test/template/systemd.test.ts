// The app's systemd unit (ssh target, systemd supervisor), rendered as the program renders it
// and checked by systemd's own parser: `systemd-analyze verify` must have nothing to say.
// Systemd does not run as init on the test machines, so this is how the unit is tested.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { render } from "../../components/templates";

function verify(unitText: string, name = "bluegreen-app.service"): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unit-"));
    const file = path.join(dir, name);
    fs.writeFileSync(file, unitText);
    const result = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe("systemd unit of the router's nginx", () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "prefix-"));
    const unit = render("systemd/bluegreen-nginx.service.hbs", { prefix, user: "bluegreen", stopTimeoutSeconds: 40 });
    after(() => fs.rmSync(prefix, { recursive: true, force: true }));

    it("passes systemd-analyze verify with no warning", () => {
        const result = verify(unit, "bluegreen-nginx.service");
        assert.equal(result.output, "", "systemd has nothing to say about the unit");
        assert.equal(result.status, 0);
    });

    it("reloads with nginx -s reload and stops gracefully; the config is tested before every start", () => {
        assert.match(unit, new RegExp(`^ExecStartPre=nginx -t -q -p ${prefix}/ .* -c ${prefix}/conf/nginx.conf$`, "m"));
        assert.match(unit, /^ExecReload=nginx .* -s reload$/m);
        assert.match(unit, /^ExecStop=nginx .* -s quit$/m);
        assert.match(unit, new RegExp(`^PIDFile=${prefix}/logs/nginx.pid$`, "m"));
        assert.match(unit, /^WantedBy=multi-user.target$/m);
    });

    it("runs nginx as the login that owns the prefix, with only the right to bind ports below 1024", () => {
        assert.match(unit, /^User=bluegreen$/m);
        assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
        assert.match(unit, /^NoNewPrivileges=true$/m);
    });
});

describe("systemd unit of the routers' floating address (keepalived)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepalived-"));
    const unit = render("systemd/bluegreen-keepalived.service.hbs", { dir });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("passes systemd-analyze verify with no warning", () => {
        const result = verify(unit, "bluegreen-keepalived.service");
        assert.equal(result.output, "", "systemd has nothing to say about the unit");
        assert.equal(result.status, 0);
    });

    it("runs keepalived in the foreground with the stack's own config; a reload is SIGHUP", () => {
        assert.match(unit, new RegExp(`--dont-fork .*--use-file=${dir}/keepalived.conf`));
        assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
        assert.match(unit, /^Restart=on-failure$/m);
    });
});

describe("systemd unit of a pool host's app", () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "host-"));
    fs.mkdirSync(path.join(hostDir, "current"));
    const unit = render("systemd/bluegreen-app.service.hbs", {
        color: "green",
        hostName: "green-1",
        hostDir,
        user: "root",
        startCommand: "node server.js",
        stopTimeoutSeconds: 35,
    });
    after(() => fs.rmSync(hostDir, { recursive: true, force: true }));

    it("passes systemd-analyze verify with no warning", () => {
        const result = verify(unit);
        assert.equal(result.output, "", "systemd has nothing to say about the unit");
        assert.equal(result.status, 0);
    });

    it("a broken unit is reported (the check can fail)", () => {
        const result = verify(unit.replace("KillSignal=SIGTERM", "KillSignal=SIGTERMX"));
        assert.match(result.output, /Failed to parse signal name/);
    });

    it("stops by draining: SIGTERM, then the drain timeout + 5 s before anything is killed", () => {
        assert.match(unit, /^KillSignal=SIGTERM$/m);
        assert.match(unit, /^TimeoutStopSec=35$/m);
        assert.match(unit, /^Restart=on-failure$/m);
        assert.match(unit, new RegExp(`^WorkingDirectory=${hostDir}/current$`, "m"));
    });

    it("systemd opens no file where the app user writes: the app's shell reads app.env and appends to app.log", () => {
        // systemd opens these as root, following links: the app user could point them anywhere.
        assert.doesNotMatch(unit, /^(EnvironmentFile|StandardOutput|StandardError|StandardInput)=/m);
        assert.match(
            unit,
            new RegExp(
                `^ExecStart=/bin/sh -c 'set -a && \\. ${hostDir}/app\\.env && exec node server\\.js ` +
                    `>>${hostDir}/app\\.log 2>&1'$`,
                "m",
            ),
        );
    });
});

describe("systemd timer and service of the certificate renewal (ACME)", () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "prefix-"));
    const service = render("systemd/bluegreen-acme-renew.service.hbs", { prefix, user: "bluegreen" });
    const timer = render("systemd/bluegreen-acme-renew.timer.hbs", {});
    after(() => fs.rmSync(prefix, { recursive: true, force: true }));

    it("pass systemd-analyze verify together with no warning", () => {
        // What the switch writes: acme/renew, executable (systemd checks that ExecStart exists).
        fs.mkdirSync(path.join(prefix, "acme"));
        fs.writeFileSync(path.join(prefix, "acme", "renew"), "#!/bin/sh\n", { mode: 0o700 });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unit-"));
        fs.writeFileSync(path.join(dir, "bluegreen-acme-renew.service"), service);
        fs.writeFileSync(path.join(dir, "bluegreen-acme-renew.timer"), timer);
        const files = ["bluegreen-acme-renew.timer", "bluegreen-acme-renew.service"].map((f) => path.join(dir, f));
        const result = spawnSync("systemd-analyze", ["verify", ...files], { encoding: "utf8" });
        fs.rmSync(dir, { recursive: true, force: true });
        assert.equal(`${result.stdout}${result.stderr}`.trim(), "", "systemd has nothing to say about the units");
        assert.equal(result.status, 0);
    });

    it("runs acme/renew once as the login, twice a day with a random delay, catching up after downtime", () => {
        assert.match(service, new RegExp(`^ExecStart=${prefix}/acme/renew$`, "m"));
        assert.match(service, /^Type=oneshot$/m);
        assert.match(service, /^User=bluegreen$/m);
        assert.match(timer, /^OnCalendar=\*-\*-\* 00,12:00:00$/m);
        assert.match(timer, /^RandomizedDelaySec=3600$/m);
        assert.match(timer, /^Persistent=true$/m);
        const next = spawnSync("systemd-analyze", ["calendar", "*-*-* 00,12:00:00"], { encoding: "utf8" });
        assert.equal(next.status, 0, next.stderr);
    });
});
