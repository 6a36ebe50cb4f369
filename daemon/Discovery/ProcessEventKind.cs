namespace Sonde.Discovery;

/// <summary>enum sonde_proc_event_kind of bpf/procs.h.</summary>
public enum ProcessEventKind : uint { Exec = 1, Exit = 2 }
