using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;
using PendingTensor = GroundSharp.IO.RestrictedUnpickler.PendingTensor;

namespace GroundSharp.IO;

/// <summary>
/// Reads checkpoints written by PyTorch's <c>torch.save</c> (the zip format, default since PyTorch 1.6) without Python
/// and without running any code from the file: see docs/checkpoint-formats.md.
/// </summary>
/// <remarks>
/// Ownership: every returned tensor is a fresh CPU tensor, contiguous, with the stored dtype, and belongs to no
/// TorchSharp dispose scope (a scope open around the call does not dispose it). The caller disposes it.
/// Tensors sharing one storage in the file (tied weights, views) come back as independent copies.
/// </remarks>
public static class TorchCheckpointReader
{
    /// <summary>
    /// Reads the whole pickled object: <see cref="PickleDict"/> for dicts and OrderedDicts, <see cref="List{T}"/> of
    /// object for lists, <see cref="PickleTuple"/>, <see cref="long"/> (or <see cref="System.Numerics.BigInteger"/>
    /// beyond 64 bits), <see cref="double"/>, <see cref="string"/>, <see cref="bool"/>, <c>byte[]</c>, null and
    /// <see cref="Tensor"/>.
    /// </summary>
    /// <exception cref="GroundSharpException">The file is missing, not a torch.save zip archive, corrupt, or uses a
    /// global outside the allow-list.</exception>
    public static object? Load(string path) => Load(path, readers: null);

    /// <param name="readers">Threads reading the storages; null = two for checkpoints of 64 MB or more (cores allowing), else one.</param>
    internal static object? Load(string path, int? readers)
    {
        using var archive = OpenArchive(path);
        var prefix = FindRecordPrefix(archive, path);
        CheckByteOrder(archive, prefix, path);

        var pickleName = prefix + "data.pkl";
        var pickleBytes = ReadRecord(archive.GetEntry(pickleName)!, path);
        var unpickler = new RestrictedUnpickler(pickleBytes, $"checkpoint '{path}' ({pickleName})");
        var root = unpickler.Run();

        var materializer = new TensorMaterializer(archive, prefix, path);
        try
        {
            // Validate every tensor's layout first (messages name the first bad one, in file order), then read the
            // storages on several threads, then put the tensors into the tree.
            var planned = materializer.Replace(root, "", depth: 0);
            materializer.ReadAll(readers);
            return materializer.Swap(planned);
        }
        catch
        {
            materializer.DisposeCreated();
            throw;
        }
    }

    /// <summary>
    /// Reads the model weights: the dict under <c>'model'</c> or <c>'state_dict'</c> when the top-level object has
    /// one (as ALBEF/AMC checkpoints do), else the top-level dict itself. String keys with tensor values are returned
    /// in file order; other entries are skipped.
    /// </summary>
    public static Dictionary<string, Tensor> LoadStateDict(string path) => LoadStateDict(path, out _);

    /// <inheritdoc cref="LoadStateDict(string)"/>
    /// <param name="skippedEntries">Keys of the chosen dict whose values were not tensors (e.g. nested dicts).</param>
    public static Dictionary<string, Tensor> LoadStateDict(string path, out IReadOnlyList<string> skippedEntries) =>
        LoadStateDict(path, readers: null, out skippedEntries);

    internal static Dictionary<string, Tensor> LoadStateDict(string path, int? readers, out IReadOnlyList<string> skippedEntries)
    {
        var root = Load(path, readers);
        var stateDict = root is PickleDict top
            ? (top.TryGetValue("model", out var model) && model is PickleDict m ? m
                : top.TryGetValue("state_dict", out var sd) && sd is PickleDict s ? s
                : top)
            : null;

        var tensors = new Dictionary<string, Tensor>();
        var skipped = new List<string>();
        foreach (var (key, value) in stateDict ?? new PickleDict())
        {
            if (key is string name && value is Tensor tensor) tensors[name] = tensor;
            else skipped.Add(key.ToString() ?? "");
        }

        // Tensors elsewhere in the checkpoint (e.g. optimizer state) are not returned, so they are freed here.
        var kept = new HashSet<Tensor>(tensors.Values, ReferenceEqualityComparer.Instance);
        foreach (var other in EnumerateTensors(root).Where(t => !kept.Contains(t))) other.Dispose();

        if (tensors.Count == 0)
        {
            var what = stateDict is null ? $"its top-level object is a {root?.GetType().Name ?? "None"}, not a dict" : "the dict holds no tensors";
            throw new GroundSharpException($"checkpoint '{path}' holds no state dict: {what}");
        }
        skippedEntries = skipped;
        return tensors;
    }

    private static IEnumerable<Tensor> EnumerateTensors(object? root)
    {
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object?>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node is null || !visited.Add(node)) continue;
            switch (node)
            {
                case Tensor t: yield return t; break;
                case PickleDict d:
                    foreach (var v in d.Values.Concat(d.Attributes.Values)) pending.Push(v);
                    break;
                case IEnumerable<object?> items when node is List<object?> or PickleTuple:
                    foreach (var v in items) pending.Push(v);
                    break;
            }
        }
    }

    private static ZipArchive OpenArchive(string path)
    {
        CheckpointPath.RequireFile(path);
        FileStream? stream = null;
        try
        {
            stream = File.OpenRead(path);
            Span<byte> head = stackalloc byte[2];
            int read = stream.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            if (read >= 1 && head[0] == 0x80)
                throw new GroundSharpException(
                    $"checkpoint '{path}' uses PyTorch's legacy (pre-1.6, non-zip) format, which is not supported; " +
                    "re-save it with torch.save(obj, path, _use_new_zipfile_serialization=True)");
            if (read < 2 || head[0] != (byte)'P' || head[1] != (byte)'K')
                throw new GroundSharpException($"checkpoint '{path}' is not a torch.save archive (not a zip file)");
            stream.Position = 0;
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            stream?.Dispose();
            throw new GroundSharpException($"checkpoint '{path}' cannot be read as a zip archive (truncated or corrupt?): {e.Message}", e);
        }
        catch
        {
            stream?.Dispose();
            throw;
        }
    }

    /// <summary>The archive's folder (e.g. "archive/"): torch.save names it after the file; any name is accepted.</summary>
    private static string FindRecordPrefix(ZipArchive archive, string path)
    {
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            ?? archive.Entries.FirstOrDefault(e => e.FullName == "data.pkl");
        if (pickle is null)
            throw new GroundSharpException($"checkpoint '{path}' is a zip file without a data.pkl record, so it is not a torch.save checkpoint");
        return pickle.FullName[..^"data.pkl".Length];
    }

    private static void CheckByteOrder(ZipArchive archive, string prefix, string path)
    {
        var entry = archive.GetEntry(prefix + "byteorder");
        if (entry is null) return; // written by PyTorch >= 2.1 only; older archives are little-endian
        var order = System.Text.Encoding.ASCII.GetString(ReadRecord(entry, path)).Trim();
        if (order == "little") return;
        throw new GroundSharpException(order == "big"
            ? $"checkpoint '{path}' was saved on a big-endian machine; only little-endian checkpoints are supported (re-save it on a little-endian machine)"
            : $"checkpoint '{path}' has an unknown byteorder record '{order}'");
    }

    private static byte[] ReadRecord(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > Array.MaxLength)
            throw new GroundSharpException($"checkpoint '{path}': record '{entry.FullName}' is {entry.Length} bytes, more than one array can hold");
        try
        {
            var bytes = new byte[entry.Length];
            using var stream = entry.Open();
            stream.ReadExactly(bytes);
            if (stream.ReadByte() != -1) throw new InvalidDataException("record is longer than its header says");
            return bytes;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new GroundSharpException($"checkpoint '{path}': record '{entry.FullName}' is truncated or corrupt: {e.Message}", e);
        }
    }

    /// <summary>Replaces tensor placeholders in the unpickled tree by tensors read from the archive's storage records.</summary>
    private sealed class TensorMaterializer
    {
        private readonly ZipArchive _archive;
        private readonly string _prefix;
        private readonly string _path;
        private readonly Dictionary<object, object?> _replaced = new(ReferenceEqualityComparer.Instance);
        private readonly List<TensorRead> _reads = new();

        /// <summary>One tensor to read: its validated layout, then (after <see cref="ReadAll"/>) the tensor.</summary>
        private sealed class TensorRead
        {
            public required string EntryName { get; init; }
            public required string Where { get; init; }
            public required ScalarType Dtype { get; init; }
            public required int ElementSize { get; init; }
            public required long[] Size { get; init; }
            public required long[] Stride { get; init; }
            public required long StorageOffset { get; init; }
            /// <summary>Elements from the storage offset to the last one the tensor uses (0 for an empty tensor).</summary>
            public required long SpanNumel { get; init; }
            public Tensor? Result { get; set; }
        }

        public TensorMaterializer(ZipArchive archive, string prefix, string path)
        {
            _archive = archive;
            _prefix = prefix;
            _path = path;
        }

        public void DisposeCreated()
        {
            foreach (var r in _reads) r.Result?.Dispose();
        }

        /// <summary>Walk 1: each tensor placeholder becomes a validated <see cref="TensorRead"/>.</summary>
        /// <param name="where">The path of the node in the tree, e.g. "model/visual_encoder.cls_token", for messages.</param>
        public object? Replace(object? node, string where, int depth) =>
            Map(node, where, depth, (leaf, at) => leaf is PendingTensor p ? Plan(p, at) : leaf);

        /// <summary>Walk 2: each <see cref="TensorRead"/> becomes its tensor.</summary>
        public object? Swap(object? node)
        {
            _replaced.Clear();
            return Map(node, "", 0, (leaf, _) => leaf is TensorRead r ? r.Result : leaf);
        }

        private object? Map(object? node, string where, int depth, Func<object, string, object?> leaf)
        {
            if (node is null || node is string || node.GetType().IsValueType) return node;
            if (depth > RestrictedUnpickler.MaxNesting)
                throw Fail($"entry '{where}' is nested more than {RestrictedUnpickler.MaxNesting} containers deep");
            if (node is PendingTensor or TensorRead) return leaf(node, where);
            if (_replaced.TryGetValue(node, out var done)) return done;
            switch (node)
            {
                case PickleDict dict:
                    _replaced[dict] = dict;
                    foreach (var key in dict.Keys.ToList()) dict[key] = Map(dict[key], Child(where, key), depth + 1, leaf);
                    foreach (var key in dict.Attributes.Keys.ToList()) dict.Attributes[key] = Map(dict.Attributes[key], Child(where, key), depth + 1, leaf);
                    return dict;
                case List<object?> list:
                    _replaced[list] = list;
                    for (int i = 0; i < list.Count; i++) list[i] = Map(list[i], Child(where, i), depth + 1, leaf);
                    return list;
                case PickleTuple tuple:
                    var replaced = new PickleTuple(tuple.Select((item, i) => Map(item, Child(where, i), depth + 1, leaf)).ToArray());
                    _replaced[tuple] = replaced;
                    return replaced;
                default:
                    return node;
            }
        }

        private static string Child(string where, object key) => where.Length == 0 ? $"{key}" : $"{where}/{key}";

        private TensorRead Plan(PendingTensor p, string where)
        {
            var dtype = p.Storage.Dtype;
            var entry = StorageEntry(p.Storage, where);
            long storageNumel = p.Storage.Numel;
            if (entry.Length < storageNumel * dtype.ElementSize)
                throw Fail($"tensor '{where}': storage record '{entry.FullName}' has {entry.Length} bytes, " +
                           $"but the pickle declares {storageNumel} {dtype.ScalarType} elements ({storageNumel * dtype.ElementSize} bytes)");

            string layout = $"shape [{string.Join(", ", p.Size)}], stride [{string.Join(", ", p.Stride)}], storage offset {p.StorageOffset}";
            if (p.StorageOffset < 0 || p.Size.Any(s => s < 0) || p.Stride.Any(s => s < 0))
                throw Fail($"tensor '{where}' has a negative size, stride or offset ({layout})");

            long numel, lastIndex;
            try
            {
                numel = p.Size.Aggregate(1L, (a, s) => checked(a * s));
                lastIndex = p.StorageOffset;
                for (int i = 0; i < p.Size.Length; i++) lastIndex = checked(lastIndex + (p.Size[i] - 1) * p.Stride[i]);
            }
            catch (OverflowException)
            {
                throw Fail($"tensor '{where}' has an impossible layout ({layout})");
            }

            long spanNumel = 0;
            if (numel > 0)
            {
                if (lastIndex >= storageNumel)
                    throw Fail($"tensor '{where}' ({layout}) needs {lastIndex + 1} elements, but its storage '{entry.FullName}' " +
                               $"holds only {storageNumel} {dtype.ScalarType} elements");
                // Only the elements the tensor spans are read: a small view of a huge storage costs its own size, not the storage's.
                spanNumel = lastIndex - p.StorageOffset + 1;
                if (spanNumel * dtype.ElementSize > Array.MaxLength)
                    throw Fail($"tensor '{where}' ({layout}) spans {spanNumel * dtype.ElementSize} bytes, more than one array can hold");
            }
            var read = new TensorRead
            {
                EntryName = entry.FullName, Where = where, Dtype = dtype.ScalarType, ElementSize = dtype.ElementSize,
                Size = p.Size, Stride = p.Stride, StorageOffset = p.StorageOffset, SpanNumel = spanNumel,
            };
            _reads.Add(read);
            return read;
        }

        /// <summary>
        /// Reads every planned tensor, on up to two threads with an archive each (the copy out of the page cache is
        /// memory-bound: a second core nearly halves a large checkpoint's load). A failure reports the first failing
        /// tensor in file order.
        /// </summary>
        public void ReadAll(int? readers)
        {
            long total = _reads.Sum(r => r.SpanNumel * r.ElementSize);
            int workers = Math.Max(1, Math.Min(readers ?? (total < (64L << 20) ? 1 : Math.Min(2, Environment.ProcessorCount)), _reads.Count));
            if (workers == 1)
            {
                foreach (var r in _reads) r.Result = Read(_archive, r);
                return;
            }
            var failures = new GroundSharpException?[_reads.Count];
            // Each worker takes every workers-th tensor from its own archive, so the bytes are split about evenly.
            try
            {
                Parallel.For(0, workers, w =>
                {
                    using var archive = OpenArchive(_path);
                    for (int i = w; i < _reads.Count; i += workers)
                    {
                        try { _reads[i].Result = Read(archive, _reads[i]); }
                        catch (GroundSharpException e) { failures[i] = e; return; }
                    }
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
            if (failures.FirstOrDefault(f => f is not null) is { } first) throw first;
        }

        private Tensor Read(ZipArchive archive, TensorRead r)
        {
            using var scope = NewDisposeScope();
            Tensor result;
            if (r.SpanNumel == 0)
                result = empty(r.Size, r.Dtype);
            else
            {
                // Read straight into the tensor's memory: one copy from the archive, the least a load can do.
                var span = empty(r.SpanNumel, r.Dtype);
                var entry = archive.GetEntry(r.EntryName) ?? throw Fail($"tensor '{r.Where}' needs storage record '{r.EntryName}', which is missing from the archive");
                ReadRange(entry, r.StorageOffset * r.ElementSize, span.bytes);
                long numel = r.Size.Aggregate(1L, (a, s) => a * s);
                if (r.SpanNumel == numel && IsContiguous(r.Size, r.Stride)) result = span.view(r.Size);
                else
                {
                    var view = span.as_strided(r.Size, r.Stride, 0);
                    // clone() of a dense transposed view keeps its strides, so only contiguous views are cloned.
                    result = view.is_contiguous() ? view.clone() : view.contiguous();
                }
            }
            return result.DetachFromDisposeScope();
        }

        private ZipArchiveEntry StorageEntry(RestrictedUnpickler.StorageRef storage, string where)
        {
            var name = _prefix + "data/" + storage.Key;
            return _archive.GetEntry(name) ?? throw Fail($"tensor '{where}' needs storage record '{name}', which is missing from the archive");
        }

        /// <summary>Row-major strides of a shape (size-1 dimensions may have any stride).</summary>
        private static bool IsContiguous(long[] size, long[] stride)
        {
            long expected = 1;
            for (int i = size.Length - 1; i >= 0; i--)
            {
                if (size[i] != 1 && stride[i] != expected) return false;
                expected *= size[i];
            }
            return true;
        }

        /// <summary>Fills <paramref name="bytes"/> with the record's bytes from <paramref name="offset"/> on, skipping (not keeping) what comes before.</summary>
        private void ReadRange(ZipArchiveEntry entry, long offset, Span<byte> bytes)
        {
            try
            {
                using var stream = entry.Open();
                if (stream.CanSeek) stream.Seek(offset, SeekOrigin.Begin);
                else
                {
                    var skip = new byte[Math.Min(offset, 1 << 16)];
                    for (long left = offset; left > 0;)
                    {
                        int read = stream.Read(skip, 0, (int)Math.Min(left, skip.Length));
                        if (read == 0) throw new EndOfStreamException();
                        left -= read;
                    }
                }
                // A whole record is checked against the CRC-32 the archive stores for it, as PyTorch's reader does: damaged
                // bytes would otherwise load as wrong weights without a word. (A view into part of a storage is not.) The
                // hash runs on each 1 MiB piece just read, while it is still in the cache.
                bool whole = offset == 0 && bytes.Length == entry.Length;
                var crc = whole ? new System.IO.Hashing.Crc32() : null;
                for (int done = 0; done < bytes.Length;)
                {
                    var piece = bytes.Slice(done, Math.Min(1 << 20, bytes.Length - done));
                    stream.ReadExactly(piece);
                    crc?.Append(piece);
                    done += piece.Length;
                }
                if (crc is not null && crc.GetCurrentHashAsUInt32() != entry.Crc32)
                    throw new InvalidDataException("its CRC-32 does not match the archive's (the bytes were changed after saving)");
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                throw Fail($"storage record '{entry.FullName}' is truncated or corrupt: {e.Message}");
            }
        }

        private GroundSharpException Fail(string message) => new($"checkpoint '{_path}': {message}");
    }
}
