using System.Runtime.CompilerServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// A map of a <see cref="BpfObject"/>. The fd belongs to the object (closed
/// with it), so this is a view, not an owner. Keys and values are unmanaged
/// structs whose layout must equal the BPF side's (checked by tests).
/// </summary>
public sealed unsafe class BpfMap
{
    private readonly BpfObject _owner;
    private readonly nint _map;

    internal BpfMap(BpfObject owner, nint map, string name)
    {
        _owner = owner;
        _map = map;
        Name = name;
    }

    public string Name { get; }

    /// <summary>The map's fd; valid once the object is loaded, until it is disposed.</summary>
    public int Fd
    {
        get
        {
            _owner.ThrowIfDisposed();
            int fd = LibbpfNative.bpf_map__fd(_map);
            if (fd < 0) throw new InvalidOperationException($"map {Name} has no fd: is the object loaded?");
            return fd;
        }
    }

    /// <summary>The size of the map's values, in bytes.</summary>
    public uint ValueSize => LibbpfNative.bpf_map__value_size(_map);

    /// <summary>Sets the size of its values; only before load, for a map whose values have no BTF type.</summary>
    public void SetValueSize(uint size)
    {
        int rc = LibbpfNative.bpf_map__set_value_size(_map, size);
        if (rc < 0) throw new BpfException($"set value_size of map {Name}", -rc, Array.Empty<string>());
    }

    /// <summary>
    /// The initial contents of a global-data map (.rodata, .data, .bss and their
    /// named sections), which load copies into the kernel: read them, or change
    /// them before load. A view of libbpf's copy, valid until the object is disposed.
    /// </summary>
    public Span<byte> InitialValue
    {
        get
        {
            _owner.ThrowIfDisposed();
            nuint size;
            void* p = LibbpfNative.bpf_map__initial_value(_map, &size);
            if (p == null) throw new InvalidOperationException($"map {Name} has no initial value: not a global-data map, or already loaded");
            return new Span<byte>(p, checked((int)size));
        }
    }

    /// <summary>Sets max_entries (ring buffer: its size in bytes); only before load.</summary>
    public void SetMaxEntries(uint maxEntries)
    {
        int rc = LibbpfNative.bpf_map__set_max_entries(_map, maxEntries);
        if (rc < 0) throw new BpfException($"set max_entries of map {Name}", -rc, Array.Empty<string>());
    }

    public void Update<TKey, TValue>(in TKey key, in TValue value, ulong flags = 0)
        where TKey : unmanaged where TValue : unmanaged
    {
        if (sizeof(TValue) != LibbpfNative.bpf_map__value_size(_map))
            throw new ArgumentException($"value of {typeof(TValue).Name} is {sizeof(TValue)} bytes, map {Name} holds {LibbpfNative.bpf_map__value_size(_map)}");
        TKey k = key;
        TValue v = value;
        int rc = LibbpfNative.bpf_map_update_elem(Fd, &k, &v, flags);
        if (rc < 0) throw new BpfException($"update map {Name}", -rc, Array.Empty<string>());
    }

    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value)
        where TKey : unmanaged where TValue : unmanaged
    {
        TKey k = key;
        TValue v = default;
        int rc = LibbpfNative.bpf_map_lookup_elem(Fd, &k, &v);
        value = v;
        return rc == 0;
    }

    /// <summary>Deletes a key; false when it wasn't there.</summary>
    public bool TryDelete<TKey>(in TKey key) where TKey : unmanaged
    {
        TKey k = key;
        int rc = LibbpfNative.bpf_map_delete_elem(Fd, &k);
        if (rc == 0) return true;
        if (rc == -Sonde.Interop.LibC.Errno.ENOENT) return false;
        throw new BpfException($"delete from map {Name}", -rc, Array.Empty<string>());
    }

    /// <summary>
    /// The keys of a hash map, as they are while it is read (entries added or removed
    /// meanwhile may or may not be seen; the kernel restarts from the first key when
    /// the one it continues from was removed, so a key may come twice).
    /// </summary>
    public List<TKey> Keys<TKey>() where TKey : unmanaged
    {
        var keys = new List<TKey>();
        TKey key = default, next = default;
        int fd = Fd;
        int rc = LibbpfNative.bpf_map_get_next_key(fd, null, &next);
        while (rc == 0)
        {
            keys.Add(next);
            key = next;
            rc = LibbpfNative.bpf_map_get_next_key(fd, &key, &next);
        }
        if (rc != -Sonde.Interop.LibC.Errno.ENOENT) throw new BpfException($"iterate map {Name}", -rc, Array.Empty<string>());
        return keys;
    }

    /// <summary>Reads the first bytes of a key's value (a prefix of it is enough); false when the key is gone.</summary>
    public bool TryLookupHead<TKey, THead>(in TKey key, out THead head) where TKey : unmanaged where THead : unmanaged
    {
        uint size = ValueSize;
        if (sizeof(THead) > size) throw new ArgumentException($"{typeof(THead).Name} is longer than map {Name}'s values");
        var value = size <= 4096 ? stackalloc byte[(int)size] : new byte[size];
        TKey k = key;
        int rc;
        fixed (byte* v = value) rc = LibbpfNative.bpf_map_lookup_elem(Fd, &k, v);
        head = rc == 0 ? System.Runtime.InteropServices.MemoryMarshal.Read<THead>(value) : default;
        return rc == 0;
    }

    /// <summary>Sums a per-CPU array's u64 slot over all possible CPUs.</summary>
    public ulong SumPerCpu(uint index)
    {
        int cpus = BpfObject.PossibleCpus;
        // Per-CPU values are each rounded up to 8 bytes; ours are u64 already.
        Span<ulong> values = cpus <= 256 ? stackalloc ulong[cpus] : new ulong[cpus];
        uint k = index;
        int rc;
        fixed (ulong* p = values) rc = LibbpfNative.bpf_map_lookup_elem(Fd, &k, p);
        if (rc < 0) throw new BpfException($"lookup map {Name}[{index}]", -rc, Array.Empty<string>());
        ulong sum = 0;
        foreach (var v in values) sum += v;
        return sum;
    }
}
