using System.Diagnostics;
using System.Text;

namespace Sonde.Tests.Hosting;

/// <summary>
/// A real systemd (PID 1 of its own PID and mount namespaces) for tests, booted
/// the way /work/shared/DESIGN.md describes: tmpfs over /tmp and /run (and
/// /var/tmp, /var/lib, /var/log/journal) before anything starts, so the
/// machine's files stay untouched; a small target so the machine's enabled
/// units stay down; a volatile journal. Commands run inside with nsenter.
/// Dispose kills PID 1 (SIGKILL: SIGTERM makes a system manager re-execute),
/// which takes every process of the namespace with it, then removes the
/// cgroups that systemd created in the machine's (shared) cgroup tree and
/// checks that nothing of the namespace is left (<see cref="Leftovers"/>).
/// </summary>
public sealed class SystemdNamespace : IDisposable
{
    public const string SystemdBinary = "/lib/systemd/systemd";

    private readonly Process _unshare;
    private readonly StringBuilder _console = new();
    private readonly HashSet<string> _cgroupsBefore;
    private bool _disposed;

    private SystemdNamespace(Process unshare, string id, HashSet<string> cgroupsBefore)
    {
        _unshare = unshare;
        Id = id;
        _cgroupsBefore = cgroupsBefore;
    }

    /// <summary>
    /// Short random id: name the units you install with it (sonde-ID-...), so
    /// that two namespaces, whose systemds share the machine's cgroup tree,
    /// never share a unit's cgroup, and teardown can tell its own.
    /// </summary>
    public string Id { get; }

    /// <summary>The host pid of the namespace's systemd.</summary>
    public int Pid { get; private set; }

    /// <summary>"pid:[inode]" of the namespace, to find its processes from outside.</summary>
    public string PidNamespace { get; private set; } = "";

    /// <summary>After Dispose: what was left behind (processes, cgroups); empty when clean.</summary>
    public IReadOnlyList<string> Leftovers { get; private set; } = [];

    /// <summary>
    /// Drop-in lines a test unit with PrivateTmp= needs when the checkout
    /// itself lives under /tmp or /var/tmp (a CI clone): the unit's private
    /// tmp would hide the built sonde and its files. Empty otherwise.
    /// </summary>
    public static string CheckoutVisibility(params string[] writable)
    {
        string root = Support.Repo.Root;
        if (!root.StartsWith("/tmp/", StringComparison.Ordinal) && !root.StartsWith("/var/tmp/", StringComparison.Ordinal)) return "";
        return $"BindReadOnlyPaths={root}\n" + string.Concat(writable.Select(w => $"BindPaths={w}\n"));
    }

    public static SystemdNamespace Start(TimeSpan? timeout = null) => Start(overlay: null, timeout);

    /// <summary>
    /// With <paramref name="overlay"/>, the namespace's root is the machine's
    /// root file system under a tmpfs overlay: everything the namespace writes
    /// (a dpkg -i into /usr, /etc and /var/lib/dpkg) stays in memory and goes
    /// with it, and the paths in <see cref="OverlayRoot.Hide"/> are deleted
    /// there (whiteouts) so that the namespace's machine does not have them.
    /// </summary>
    public static SystemdNamespace Start(OverlayRoot? overlay, TimeSpan? timeout = null)
    {
        string id = Guid.NewGuid().ToString("N")[..8];
        string target = $"sonde-test-{id}.target";
        string root = overlay is null ? "" : $"""
            # The machine's root file system (its / mount only, not /proc, /sys or
            # /dev) as the lower layer of an overlay whose upper layer is a tmpfs.
            mount -t tmpfs -o mode=0755 tmpfs /mnt
            mkdir /mnt/upper /mnt/work /mnt/root
            mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work /mnt/root
            mount -t proc proc /mnt/root/proc
            mount --rbind /sys /mnt/root/sys
            mount --rbind /dev /mnt/root/dev
            rm -rf {string.Join(' ', overlay.Hide.Select(h => $"'/mnt/root{h}'"))}
            # pivot_root, not chroot: systemd and systemctl refuse to act in a chroot.
            cd /mnt/root
            mkdir -p .oldroot
            pivot_root . .oldroot
            umount -l /.oldroot
            rmdir /.oldroot
            cd /
            """;
        // In an overlay, /var/lib is the overlay's (dpkg's database lives there).
        string tmpfsDirs = overlay is null ? "/tmp /var/tmp /var/lib" : "/tmp /var/tmp";
        string boot = $"""
            set -e
            repo='{Support.Repo.Root}'
            {root}
            mount -t tmpfs -o mode=0755 tmpfs /run
            # A checkout under a directory the namespace covers with a tmpfs (a CI
            # clone in /tmp) must stay visible: stash a bind mount of it in /run...
            case "$repo" in /tmp/*|/var/tmp/*{(overlay is null ? "|/var/lib/*" : "")}) mkdir -p /run/sonde-repo && mount --bind "$repo" /run/sonde-repo;; esac
            for d in {tmpfsDirs}; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
            chmod 1777 /tmp /var/tmp
            mkdir -p /run/systemd/system
            if [ -d /run/sonde-repo ]; then
                # ...and put it back at its path. systemd-tmpfiles cleans /tmp at boot
                # and daily: it must never run where a real checkout is mounted.
                mkdir -p "$repo" && mount --bind /run/sonde-repo "$repo"
                for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer; do
                    ln -s /dev/null "/run/systemd/system/$u"
                done
            fi
            if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi
            mkdir -p /run/systemd/journald.conf.d
            printf '[Journal]\nStorage=volatile\n' > /run/systemd/journald.conf.d/sonde-test.conf
            for u in systemd-journal-flush.service systemd-tmpfiles-setup-dev.service systemd-journald-audit.socket; do
                ln -s /dev/null "/run/systemd/system/$u"
            done
            printf '[Unit]\nDescription=Sonde tests\nRequires=systemd-journald.socket\nAfter=systemd-journald.socket\n' > /run/systemd/system/{target}
            exec {SystemdBinary} --system --unit={target}
            """;
        var cgroupsBefore = CgroupDirectories();
        var psi = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "/usr/bin/unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private", "/bin/sh", "-c", boot })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var ns = new SystemdNamespace(p, id, cgroupsBefore);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (ns._console) ns._console.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (ns._console) ns._console.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            ns.WaitRunning(timeout ?? TimeSpan.FromSeconds(30), target);
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    private void WaitRunning(TimeSpan timeout, string target)
    {
        var sw = Stopwatch.StartNew();
        while (Pid == 0)
        {
            if (_unshare.HasExited) throw new InvalidOperationException($"the namespace's boot script failed:\n{Console}");
            if (sw.Elapsed > timeout) throw new TimeoutException("systemd did not start");
            Pid = FindSystemd(target);
            if (Pid == 0) Thread.Sleep(20);
        }
        PidNamespace = new FileInfo($"/proc/{Pid}/ns/pid").LinkTarget ?? throw new InvalidOperationException("no pid namespace link");
        string state = "";
        while (sw.Elapsed < timeout)
        {
            var r = Run("systemctl", "is-system-running");
            state = r.Stdout.Trim();
            if (state is "running" or "degraded") return;
            Thread.Sleep(50);
        }
        throw new TimeoutException($"systemd in the namespace is '{state}' after {timeout.TotalSeconds}s:\n{Console}");
    }

    /// <summary>The pid of the process running systemd for <paramref name="target"/> (its cmdline names it).</summary>
    private static int FindSystemd(string target)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.StartsWith(SystemdBinary + "\0", StringComparison.Ordinal) && cmdline.Contains("--unit=" + target)) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return 0;
    }

    /// <summary>What the boot script and systemd printed on their console.</summary>
    public string Console { get { lock (_console) return _console.ToString(); } }

    /// <summary>Runs a command inside the namespace (nsenter into its mount and PID namespaces).</summary>
    public CommandResult Run(params string[] args) => RunWithInput(null, args);

    public CommandResult RunWithInput(string? stdin, params string[] args) =>
        Support.HostCommand.Run("/usr/bin/nsenter",
            ["-t", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "-p", "--", .. args],
            new Dictionary<string, string> { ["SYSTEMD_PAGER"] = "", ["SYSTEMD_COLORS"] = "0" }, stdin);

    public CommandResult Systemctl(params string[] args) => Run(["systemctl", "--no-pager", .. args]);

    /// <summary>One property of a unit (systemctl show -p NAME --value).</summary>
    public string Show(string unit, string property) => Systemctl("show", unit, "-p", property, "--value").Stdout.Trim();

    /// <summary>Writes a unit file (and optionally a drop-in) into /run/systemd/system and reloads systemd.</summary>
    public void InstallUnit(string name, string text, string? dropIn = null)
    {
        Check(RunWithInput(text, "sh", "-c", $"cat > /run/systemd/system/{name}"));
        if (dropIn is not null)
            Check(RunWithInput(dropIn, "sh", "-c", $"mkdir -p /run/systemd/system/{name}.d && cat > /run/systemd/system/{name}.d/test.conf"));
        Check(Systemctl("daemon-reload"));
    }

    private static void Check(CommandResult r)
    {
        if (r.ExitCode != 0) throw new InvalidOperationException($"exit {r.ExitCode}: {r.Stderr}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var leftovers = new List<string>();
        if (Pid != 0)
        {
            try { Process.GetProcessById(Pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        }
        else if (!_unshare.HasExited) _unshare.Kill(entireProcessTree: true);
        if (!_unshare.WaitForExit(10_000)) leftovers.Add($"unshare (pid {_unshare.Id}) still running");
        _unshare.WaitForExit();
        _unshare.Dispose();

        // Every process of the namespace dies with its PID 1; give the kernel a moment.
        var sw = Stopwatch.StartNew();
        List<int> alive;
        while ((alive = ProcessesIn(PidNamespace)).Count > 0 && sw.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(20);
        leftovers.AddRange(alive.Select(p => $"process {p} of the namespace still running"));

        // systemd made cgroups for its units in the machine's (shared) hierarchy:
        // remove the new ones, deepest first. rmdir refuses a cgroup that still
        // has processes or children; once our PID 1 is gone, those belong to
        // another namespace's systemd (init.scope, system.slice are common
        // names), so only our own units' cgroups, named with Id, count as leaks.
        foreach (var dir in CgroupDirectories().Except(_cgroupsBefore).OrderByDescending(d => d.Count(c => c == '/')))
        {
            try { Directory.Delete(dir); }
            catch (IOException) when (!dir.Contains(Id, StringComparison.Ordinal)) { }
            catch (IOException) { leftovers.Add($"cgroup {dir} still in use"); }
        }
        Leftovers = leftovers;
    }

    /// <summary>Host pids whose PID namespace is <paramref name="pidNamespace"/>.</summary>
    public static List<int> ProcessesIn(string pidNamespace)
    {
        var pids = new List<int>();
        if (pidNamespace.Length == 0) return pids;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try { if (new FileInfo(Path.Combine(dir, "ns", "pid")).LinkTarget == pidNamespace) pids.Add(pid); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return pids;
    }

    /// <summary>
    /// The cgroup directories, four levels deep, of every mounted hierarchy
    /// whose first path segment is a systemd unit (init.scope, system.slice,
    /// dev-mqueue.mount...): what a namespace's systemd creates. Others (the
    /// machine's own, e.g. its sandbox's) are never looked at, let alone removed.
    /// </summary>
    public static HashSet<string> CgroupDirectories()
    {
        var dirs = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists("/sys/fs/cgroup")) return dirs;
        var roots = File.Exists("/sys/fs/cgroup/cgroup.procs") ? ["/sys/fs/cgroup"]
            : Directory.GetDirectories("/sys/fs/cgroup").Where(d => new FileInfo(d).LinkTarget is null);
        foreach (var root in roots)
            foreach (var unit in Children(root).Where(d => Path.GetExtension(d) is ".slice" or ".scope" or ".mount" or ".service"))
            {
                dirs.Add(unit);
                Walk(unit, 1);
            }
        return dirs;

        void Walk(string dir, int depth)
        {
            if (depth == 4) return;
            foreach (var c in Children(dir))
            {
                dirs.Add(c);
                Walk(c, depth + 1);
            }
        }

        static string[] Children(string dir)
        {
            try { return Directory.GetDirectories(dir); }
            catch (IOException) { return []; }
            catch (UnauthorizedAccessException) { return []; }
        }
    }
}

/// <summary>How <see cref="SystemdNamespace.Start(OverlayRoot?, TimeSpan?)"/> builds an overlay root.</summary>
/// <param name="Hide">Absolute paths removed from the namespace's view of the machine.</param>
public sealed record OverlayRoot(params string[] Hide);
