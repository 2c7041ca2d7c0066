using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace GroundSharp.IO;

/// <summary>
/// Unpickles the <c>data.pkl</c> of a torch.save archive without running code: only the globals PyTorch's
/// <c>weights_only=True</c> loader allows for state dicts are resolved, and they are interpreted here rather than
/// called. Tensors come out as <see cref="PendingTensor"/> placeholders; the archive reader fills in their bytes.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>A reference to an allowed Python global (a class or function), never called as code.</summary>
    internal sealed record GlobalRef(string Module, string Name)
    {
        public string FullName => Module + "." + Name;
        public override string ToString() => FullName;
    }

    /// <summary>A persistent id <c>('storage', storage_type, key, location, numel)</c>: the record <c>data/KEY</c>.</summary>
    internal sealed record StorageRef(string Key, TorchDtype Dtype, long Numel, string Location);

    /// <summary>What <c>_rebuild_tensor_v2</c> describes: a strided view of a storage, materialised later.</summary>
    internal sealed record PendingTensor(StorageRef Storage, long StorageOffset, long[] Size, long[] Stride);

    private const string OrderedDictGlobal = "collections.OrderedDict";
    private const string RebuildTensorGlobal = "torch._utils._rebuild_tensor_v2";
    private const string RebuildParameterGlobal = "torch._utils._rebuild_parameter";

    private static readonly HashSet<string> AllowedGlobals =
        new[] { OrderedDictGlobal, RebuildTensorGlobal, RebuildParameterGlobal }
            .Concat(TorchDtype.All.Select(d => "torch." + d.StorageTypeName))
            .ToHashSet();

    /// <summary>Deepest nesting of containers accepted; real checkpoints stay far below it.</summary>
    internal const int MaxNesting = 1000;

    private readonly byte[] _data;
    private readonly string _source;
    private readonly List<object?> _stack = new();
    private readonly Stack<List<object?>> _markStack = new();
    private readonly Dictionary<long, object?> _memo = new();
    private int _pos;
    private int _opcodeStart;

    private readonly bool _plainData;

    /// <param name="data">The pickle bytes.</param>
    /// <param name="source">How messages name the pickle, e.g. <c>'/ckpt/model.pth' (archive/data.pkl)</c>.</param>
    /// <param name="plainData">A data pickle (e.g. the REFER toolkit's <c>refs(unc).p</c>): no global at all is allowed, only lists, dicts, tuples, strings and numbers.</param>
    public RestrictedUnpickler(byte[] data, string source, bool plainData = false)
    {
        _data = data;
        _source = source;
        _plainData = plainData;
    }

    /// <summary>Reads a data pickle (protocols 0–5, Python 2's text protocol included) with no globals allowed.</summary>
    public static object? ReadPlainData(byte[] data, string source) => new RestrictedUnpickler(data, source, plainData: true).Run();

    /// <summary>Every tensor placeholder created, in pickle order.</summary>
    public List<PendingTensor> Tensors { get; } = new();

    public static string AllowedGlobalsText => string.Join(", ", AllowedGlobals.Order());

    public object? Run()
    {
        while (true)
        {
            _opcodeStart = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol > 5) throw Fail($"pickle protocol {protocol} is not supported (2 to 5 are)");
                    break;
                case 0x95: ReadBytes(8); break; // FRAME: a framing hint, the content follows inline
                case (byte)'.': // STOP
                    return Pop();

                case (byte)'(': _markStack.Push(_stack.ToList()); _stack.Clear(); break; // MARK
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP

                case (byte)'N': Push(null); break;
                // Protocol 0 (Python 2's default, e.g. the REFER toolkit's refs pickles): numbers and strings as text lines.
                case (byte)'I': Push(ParseIntLine(ReadAsciiLine())); break; // INT ("01"/"00" are True/False)
                case (byte)'L': Push(ParseLongLine(ReadAsciiLine())); break; // LONG ("123L")
                case (byte)'F': Push(ParseFloatLine(ReadAsciiLine())); break; // FLOAT
                case (byte)'S': Push(DecodeText(ParseQuotedBytes(ReadAsciiLine()))); break; // STRING (a Python 2 str, quoted repr)
                case (byte)'V': Push(ParseRawUnicodeEscape(ReadLineBytes())); break; // UNICODE
                case (byte)'U': Push(DecodeText(ReadBytes(ReadByte()).ToArray())); break; // SHORT_BINSTRING
                case (byte)'T': Push(DecodeText(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))).ToArray())); break; // BINSTRING
                case (byte)'p': _memo[ParseMemoIndex(ReadAsciiLine())] = Peek(); break; // PUT
                case (byte)'g': Push(MemoGet(ParseMemoIndex(ReadAsciiLine()))); break; // GET
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 0x8a: Push(DecodeLong(ReadBytes(ReadByte()))); break; // LONG1
                case 0x8b: Push(DecodeLong(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT

                case (byte)'X': Push(ReadUtf8(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))); break;
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8))))); break; // BINUNICODE8
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))).ToArray()); break;
                case 0x8e: Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8)))).ToArray()); break; // BINBYTES8

                case (byte)'}': Push(new PickleDict()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(PickleTuple.Empty); break;
                case 0x85: Push(new PickleTuple(Pop())); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PickleTuple(a, b)); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PickleTuple(a, b, c)); break; } // TUPLE3
                case (byte)'t': Push(new PickleTuple(PopMark().ToArray())); break; // TUPLE
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'d': { var dict = new PickleDict(); AddPairs(dict, PopMark()); Push(dict); break; } // DICT

                case (byte)'s': { var value = Pop(); var key = Pop(); SetItem(PeekDict(), key, value); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); AddPairs(PeekDict(), items); break; } // SETITEMS
                case (byte)'a': { var value = Pop(); PeekList().Add(value); break; } // APPEND
                case (byte)'e': { var items = PopMark(); PeekList().AddRange(items); break; } // APPENDS

                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET

                case (byte)'c': { var module = ReadLine(); var name = ReadLine(); Push(ResolveGlobal(module, name)); break; } // GLOBAL
                case 0x93: { var name = PopString("STACK_GLOBAL name"); var module = PopString("STACK_GLOBAL module"); Push(ResolveGlobal(module, name)); break; }
                case (byte)'R': { var args = PopTuple("REDUCE arguments"); var callable = Pop(); Push(Call(callable, args)); break; } // REDUCE
                case 0x81: { var args = PopTuple("NEWOBJ arguments"); var cls = Pop(); Push(NewObject(cls, args)); break; } // NEWOBJ
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; } // BUILD
                case (byte)'Q' when _plainData: throw Fail($"the pickle holds a persistent id at offset {_opcodeStart}; a data pickle may hold only lists, dicts, tuples, strings and numbers");
                case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID

                default:
                    throw Fail($"unsupported pickle opcode 0x{op:X2}{(op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : "")} at offset {_opcodeStart}");
            }
        }
    }

    private GroundSharpException Fail(string message) => new($"{_source}: {message}");

    // ---- reading primitives (all bounds-checked: a truncated pickle gives a message, not an exception trace)

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw Truncated(1);
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count > _data.Length - _pos) throw Truncated(count);
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    private int ReadLength(long length)
    {
        if (length < 0 || length > _data.Length - _pos) throw Truncated(length);
        return (int)length;
    }

    private int ReadLength(ulong length) => ReadLength(length > long.MaxValue ? -1 : (long)length);

    private GroundSharpException Truncated(long wanted) =>
        Fail($"pickle data ends unexpectedly at offset {_pos} (opcode at offset {_opcodeStart} needs {wanted} more bytes); the file is truncated or corrupt");

    private string ReadUtf8(int length) => Encoding.UTF8.GetString(ReadBytes(length));

    private string ReadLine() => Encoding.UTF8.GetString(ReadLineBytes());

    private string ReadAsciiLine() => Encoding.Latin1.GetString(ReadLineBytes()); // one char per byte

    private byte[] ReadLineBytes()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Truncated(1);
        var bytes = _data.AsSpan(_pos, end - _pos).ToArray();
        _pos = end + 1;
        return bytes;
    }

    private object ParseIntLine(string line)
    {
        if (line == "01") return true;
        if (line == "00") return false;
        return ParseInteger(line, "INT");
    }

    private object ParseLongLine(string line) => ParseInteger(line.EndsWith('L') ? line[..^1] : line, "LONG");

    private object ParseInteger(string text, string what)
    {
        if (!BigInteger.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value))
            throw Fail($"{what} at offset {_opcodeStart} is not an integer: '{text}'");
        return Narrow(value);
    }

    private double ParseFloatLine(string line) =>
        double.TryParse(line, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : line switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, "nan" => double.NaN, _ => throw Fail($"FLOAT at offset {_opcodeStart} is not a number: '{line}'") };

    private long ParseMemoIndex(string line) =>
        long.TryParse(line, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
            ? index
            : throw Fail($"memo index at offset {_opcodeStart} is not a number: '{line}'");

    /// <summary>A Python 2 str literal as <c>repr</c> writes it: quoted with ' or ", escapes \\ \' \" \n \r \t \xHH and octal.</summary>
    private byte[] ParseQuotedBytes(string line)
    {
        if (line.Length < 2 || line[0] != line[^1] || line[0] is not ('\'' or '"'))
            throw Fail($"STRING at offset {_opcodeStart} is not a quoted string");
        var bytes = new List<byte>(line.Length);
        for (int i = 1; i < line.Length - 1; i++)
        {
            char c = line[i];
            if (c != '\\') { bytes.Add((byte)c); continue; }
            if (++i >= line.Length - 1) throw Fail($"STRING at offset {_opcodeStart} ends inside an escape");
            c = line[i];
            switch (c)
            {
                case 'n': bytes.Add((byte)'\n'); break;
                case 'r': bytes.Add((byte)'\r'); break;
                case 't': bytes.Add((byte)'\t'); break;
                case 'a': bytes.Add(7); break;
                case 'b': bytes.Add(8); break;
                case 'f': bytes.Add(12); break;
                case 'v': bytes.Add(11); break;
                case 'x' when i + 2 <= line.Length - 2 && IsHex(line[i + 1]) && IsHex(line[i + 2]):
                    bytes.Add(Convert.ToByte(line.Substring(i + 1, 2), 16));
                    i += 2;
                    break;
                case >= '0' and <= '7':
                    int value = 0, digits = 0;
                    while (digits < 3 && i < line.Length - 1 && line[i] is >= '0' and <= '7') { value = value * 8 + (line[i] - '0'); i++; digits++; }
                    i--;
                    bytes.Add((byte)value);
                    break;
                case '\\' or '\'' or '"': bytes.Add((byte)c); break;
                default: bytes.Add((byte)'\\'); bytes.Add((byte)c); break; // Python keeps unknown escapes as written
            }
        }
        return bytes.ToArray();
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    /// <summary>Python 2 str bytes as text: UTF-8 where valid (what the datasets hold), else Latin-1.</summary>
    private static string DecodeText(byte[] bytes)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException) { return Encoding.Latin1.GetString(bytes); }
    }

    /// <summary>Python's raw-unicode-escape: Latin-1 bytes with \uXXXX and \UXXXXXXXX escapes.</summary>
    private string ParseRawUnicodeEscape(byte[] line)
    {
        var text = new StringBuilder(line.Length);
        for (int i = 0; i < line.Length; i++)
        {
            int digits = line[i] == '\\' && i + 1 < line.Length ? line[i + 1] switch { (byte)'u' => 4, (byte)'U' => 8, _ => 0 } : 0;
            if (digits == 0) { text.Append((char)line[i]); continue; }
            if (i + 2 + digits > line.Length) throw Fail($"UNICODE at offset {_opcodeStart} ends inside a \\u escape");
            var hex = Encoding.ASCII.GetString(line, i + 2, digits);
            if (!int.TryParse(hex, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out int code) || code > 0x10FFFF)
                throw Fail($"UNICODE at offset {_opcodeStart} has a bad escape '\\{(char)line[i + 1]}{hex}'");
            // Python 2's narrow builds write astral characters as two \u surrogate escapes.
            if (code is >= 0xD800 and <= 0xDFFF) text.Append((char)code); else text.Append(char.ConvertFromUtf32(code));
            i += 1 + digits;
        }
        return text.ToString();
    }

    private static object DecodeLong(ReadOnlySpan<byte> littleEndianTwosComplement)
    {
        if (littleEndianTwosComplement.Length == 0) return 0L;
        return Narrow(new BigInteger(littleEndianTwosComplement, isUnsigned: false, isBigEndian: false));
    }

    /// <summary>A Python int as a long where it fits, else the BigInteger.</summary>
    private static object Narrow(BigInteger value) => value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;

    // ---- stack

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count == 0) throw Fail($"pickle stack underflow at offset {_opcodeStart}; the data is corrupt");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek()
    {
        if (_stack.Count == 0) throw Fail($"pickle stack underflow at offset {_opcodeStart}; the data is corrupt");
        return _stack[^1];
    }

    private List<object?> PopMark()
    {
        if (_markStack.Count == 0) throw Fail($"pickle opcode at offset {_opcodeStart} needs a MARK, but none is open; the data is corrupt");
        var items = _stack.ToList();
        _stack.Clear();
        _stack.AddRange(_markStack.Pop());
        return items;
    }

    private PickleDict PeekDict() =>
        Peek() as PickleDict ?? throw Fail($"SETITEM at offset {_opcodeStart} targets a {Describe(Peek())}, not a dict");

    private List<object?> PeekList() =>
        Peek() as List<object?> ?? throw Fail($"APPEND at offset {_opcodeStart} targets a {Describe(Peek())}, not a list");

    private PickleTuple PopTuple(string what) =>
        Pop() as PickleTuple ?? throw Fail($"{what} at offset {_opcodeStart} are not a tuple; the data is corrupt");

    private string PopString(string what) =>
        Pop() as string ?? throw Fail($"{what} at offset {_opcodeStart} is not a string; the data is corrupt");

    private object? MemoGet(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Fail($"memo entry {index} read at offset {_opcodeStart} was never stored; the data is corrupt");

    private void AddPairs(PickleDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Fail($"dict items at offset {_opcodeStart} are not key/value pairs");
        for (int i = 0; i < items.Count; i += 2) SetItem(dict, items[i], items[i + 1]);
    }

    private void SetItem(PickleDict dict, object? key, object? value)
    {
        if (key is null or PendingTensor or List<object?> or PickleDict)
            throw Fail($"dict key of type {Describe(key)} at offset {_opcodeStart} is not supported");
        // Hashing a key walks its tuples recursively: refuse absurd nesting rather than overflow the stack.
        if (key is PickleTuple tuple && tuple.NestingDepth() > MaxNesting)
            throw Fail($"dict key at offset {_opcodeStart} nests tuples more than {MaxNesting} deep");
        dict[key] = value;
    }

    /// <summary>The Python type of an unpickled value, for messages.</summary>
    internal static string Describe(object? value) => value switch
    {
        null => "None",
        GlobalRef g => g.FullName,
        PendingTensor => "tensor",
        StorageRef => "storage",
        PickleDict => "dict",
        List<object?> => "list",
        PickleTuple => "tuple",
        _ => value.GetType().Name,
    };

    // ---- globals, interpreted rather than called

    private GlobalRef ResolveGlobal(string module, string name)
    {
        var global = new GlobalRef(module, name);
        // Storage classes are only ever named inside persistent ids, where an unknown one gets its own message.
        bool isStorageType = module == "torch" && name.EndsWith("Storage", StringComparison.Ordinal);
        if (_plainData)
            throw Fail($"the pickle references the Python global '{global.FullName}', which is not allowed: a data pickle may hold only " +
                "lists, dicts, tuples, strings and numbers (GroundSharp never runs code from a pickle)");
        if (AllowedGlobals.Contains(global.FullName) || isStorageType) return global;
        throw Fail(
            $"the checkpoint references the Python global '{global.FullName}', which is not allowed. " +
            "GroundSharp reads checkpoints like PyTorch's torch.load(weights_only=True): no code from a checkpoint is ever run, " +
            $"and only these globals are accepted: {AllowedGlobalsText}");
    }

    private object? Call(object? callable, PickleTuple args)
    {
        if (callable is not GlobalRef global)
            throw Fail($"REDUCE at offset {_opcodeStart} calls a {Describe(callable)}, which is not callable");
        switch (global.FullName)
        {
            case OrderedDictGlobal:
                var dict = new PickleDict(isOrderedDict: true);
                if (args.Count == 1 && args[0] is List<object?> pairs)
                    foreach (var pair in pairs)
                    {
                        if (pair is not IReadOnlyList<object?> { Count: 2 } kv) throw Fail($"OrderedDict argument at offset {_opcodeStart} is not a list of pairs");
                        SetItem(dict, kv[0], kv[1]);
                    }
                else if (args.Count != 0) throw Fail($"OrderedDict called with unexpected arguments at offset {_opcodeStart}");
                return dict;
            case RebuildTensorGlobal:
                return RebuildTensor(args);
            case RebuildParameterGlobal:
                // _rebuild_parameter(data, requires_grad, backward_hooks): the data tensor is what a state dict needs.
                if (args.Count < 1 || args[0] is not PendingTensor data)
                    throw Fail($"_rebuild_parameter at offset {_opcodeStart} is not given a tensor");
                return data;
            default:
                throw Fail($"the checkpoint calls '{global.FullName}' at offset {_opcodeStart}; only OrderedDict and the tensor rebuild functions may be called");
        }
    }

    private PendingTensor RebuildTensor(PickleTuple args)
    {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (args.Count is < 6 or > 7 || args[0] is not StorageRef storage || args[1] is not long offset)
            throw Fail($"_rebuild_tensor_v2 at offset {_opcodeStart} has unexpected arguments {args}");
        var size = LongTuple(args[2], "size");
        var stride = LongTuple(args[3], "stride");
        if (size.Length != stride.Length)
            throw Fail($"tensor at offset {_opcodeStart} has size {args[2]} but stride {args[3]}");
        var tensor = new PendingTensor(storage, offset, size, stride);
        Tensors.Add(tensor);
        return tensor;
    }

    private long[] LongTuple(object? value, string what)
    {
        if (value is PickleTuple tuple && tuple.All(v => v is long))
            return tuple.Cast<long>().ToArray();
        throw Fail($"tensor {what} at offset {_opcodeStart} is not a tuple of integers: {Describe(value)}");
    }

    private object NewObject(object? cls, PickleTuple args)
    {
        if (cls is GlobalRef { FullName: OrderedDictGlobal } && args.Count == 0) return new PickleDict(isOrderedDict: true);
        throw Fail($"NEWOBJ at offset {_opcodeStart} creates a {Describe(cls)}; only OrderedDict may be created");
    }

    private void Build(object? target, object? state)
    {
        // Python's BUILD accepts (dict_state, slot_state); slots do not occur on the objects allowed here.
        if (state is PickleTuple { Count: 2 } withSlots && withSlots[1] is null) state = withSlots[0];
        switch (target, state)
        {
            case (_, null):
                return;
            case (PickleDict dict, PickleDict attributes) when dict.IsOrderedDict:
                foreach (var (key, value) in attributes)
                    dict.Attributes[key as string ?? throw Fail($"attribute name {Describe(key)} at offset {_opcodeStart} is not a string")] = value;
                return;
            default:
                throw Fail($"BUILD at offset {_opcodeStart} sets the state of a {Describe(target)} from a {Describe(state)}, which is not supported");
        }
    }

    private StorageRef PersistentLoad(object? pid)
    {
        if (pid is not PickleTuple { Count: 5 } t || t[0] is not "storage")
            throw Fail($"persistent id at offset {_opcodeStart} is {Describe(pid)} {pid}, not ('storage', type, key, location, numel)");
        if (t[1] is not GlobalRef storageType || t[2] is not string key || t[3] is not string location || t[4] is not long numel || numel < 0)
            throw Fail($"persistent id at offset {_opcodeStart} is malformed: {pid}");
        var dtype = storageType.Module == "torch" ? TorchDtype.FromStorageTypeName(storageType.Name) : null;
        if (dtype is null)
            throw Fail($"storage record 'data/{key}' has unknown storage type '{storageType.FullName}' (supported: {string.Join(", ", TorchDtype.All.Select(d => "torch." + d.StorageTypeName))})");
        return new StorageRef(key, dtype, numel, location);
    }
}
