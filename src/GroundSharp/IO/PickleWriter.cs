using System.Buffers.Binary;
using System.Collections;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.IO;

/// <summary>
/// Writes an object tree as a protocol-2 pickle the way torch.save does: tensors become
/// <c>torch._utils._rebuild_tensor_v2</c> calls on persistent storage ids, and each distinct storage is listed
/// once in <see cref="Storages"/> (views of one storage share it, keeping their strides and offsets).
/// </summary>
internal sealed class PickleWriter
{
    private const int BatchSize = 1000; // what CPython's pickler uses for SETITEMS / APPENDS

    private readonly MemoryStream _out = new();
    private readonly string _destination;
    private readonly Dictionary<(IntPtr, ScalarType), string> _storageKeys = new();
    private readonly HashSet<object> _open = new(ReferenceEqualityComparer.Instance);

    public PickleWriter(string destination) => _destination = destination;

    /// <summary>The storages to write as records <c>data/KEY</c>: a 1-D view of each whole storage, in key order.</summary>
    public List<(string Key, Tensor Storage)> Storages { get; } = new();

    public byte[] Write(object? root)
    {
        _out.WriteByte(0x80); // PROTO 2
        _out.WriteByte(2);
        WriteObject(root, "");
        _out.WriteByte((byte)'.'); // STOP
        return _out.ToArray();
    }

    private GroundSharpException Fail(string message) => new($"cannot write '{_destination}': {message}");

    private void WriteObject(object? value, string where)
    {
        switch (value)
        {
            case null: _out.WriteByte((byte)'N'); break;
            case bool b: _out.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case sbyte or byte or short or ushort or int or uint or long: WriteInt(Convert.ToInt64(value)); break;
            case ulong u: WriteBigInteger(u); break;
            case BigInteger big: WriteBigInteger(big); break;
            case float or double:
                _out.WriteByte((byte)'G');
                Span<byte> buffer = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(buffer, Convert.ToDouble(value));
                _out.Write(buffer);
                break;
            case string s: WriteString(s); break;
            case Tensor t: WriteTensor(t, where); break;
            case PickleTuple tuple: WriteContainer(tuple, where, () => WriteTuple(tuple, where)); break;
            case PickleDict dict: WriteContainer(dict, where, () => WriteDict(dict.IsOrderedDict, Pairs(dict), where)); break;
            case IDictionary dict: WriteContainer(dict, where, () => WriteDict(false, Pairs(dict), where)); break;
            case IList list when value is not Array || value is object[]: WriteContainer(list, where, () => WriteList(list, where)); break;
            default:
                throw Fail($"entry '{where}' is a {value.GetType().Name}, which cannot be pickled " +
                           "(supported: tensors, dicts, lists, PickleTuple, integers, floats, strings, bools, null)");
        }
    }

    private static IEnumerable<(object? Key, object? Value)> Pairs(IDictionary dict)
    {
        foreach (DictionaryEntry e in dict) yield return (e.Key, e.Value);
    }

    private void WriteContainer(object container, string where, Action write)
    {
        if (!_open.Add(container)) throw Fail($"entry '{where}' contains itself; recursive structures are not written");
        if (_open.Count > RestrictedUnpickler.MaxNesting) throw Fail($"entry '{where}' is nested more than {RestrictedUnpickler.MaxNesting} containers deep");
        write();
        _open.Remove(container);
    }

    private void WriteInt(long v)
    {
        if (v is >= 0 and <= byte.MaxValue) { _out.WriteByte((byte)'K'); _out.WriteByte((byte)v); }
        else if (v is >= 0 and <= ushort.MaxValue)
        {
            _out.WriteByte((byte)'M');
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
            _out.Write(b);
        }
        else if (v is >= int.MinValue and <= int.MaxValue)
        {
            _out.WriteByte((byte)'J');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            _out.Write(b);
        }
        else WriteBigInteger(v);
    }

    private void WriteBigInteger(BigInteger v)
    {
        var bytes = v.ToByteArray(isUnsigned: false, isBigEndian: false); // minimal two's complement, as LONG1 wants
        if (bytes.Length > byte.MaxValue) throw Fail($"integer {v} is too large");
        _out.WriteByte(0x8a); // LONG1
        _out.WriteByte((byte)bytes.Length);
        _out.Write(bytes);
    }

    private void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        _out.WriteByte((byte)'X'); // BINUNICODE
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        _out.Write(length);
        _out.Write(bytes);
    }

    private void WriteGlobal(string module, string name) =>
        _out.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private void WriteEmptyOrderedDict()
    {
        WriteGlobal("collections", "OrderedDict");
        _out.WriteByte((byte)')'); // EMPTY_TUPLE
        _out.WriteByte((byte)'R'); // REDUCE
    }

    private void WriteTuple(IReadOnlyList<object?> items, string where)
    {
        if (items.Count is > 0 and <= 3)
        {
            for (int i = 0; i < items.Count; i++) WriteObject(items[i], $"{where}/{i}");
            _out.WriteByte((byte)(0x84 + items.Count)); // TUPLE1..TUPLE3
            return;
        }
        if (items.Count == 0) { _out.WriteByte((byte)')'); return; }
        _out.WriteByte((byte)'(');
        for (int i = 0; i < items.Count; i++) WriteObject(items[i], $"{where}/{i}");
        _out.WriteByte((byte)'t');
    }

    private void WriteList(IList items, string where)
    {
        _out.WriteByte((byte)']'); // EMPTY_LIST
        for (int start = 0; start < items.Count; start += BatchSize)
        {
            _out.WriteByte((byte)'(');
            for (int i = start; i < Math.Min(items.Count, start + BatchSize); i++) WriteObject(items[i], $"{where}/{i}");
            _out.WriteByte((byte)'e'); // APPENDS
        }
    }

    private void WriteDict(bool ordered, IEnumerable<(object? Key, object? Value)> pairs, string where)
    {
        if (ordered) WriteEmptyOrderedDict();
        else _out.WriteByte((byte)'}'); // EMPTY_DICT
        foreach (var batch in pairs.Chunk(BatchSize))
        {
            _out.WriteByte((byte)'(');
            foreach (var (key, value) in batch)
            {
                if (key is not (string or long or int or bool or double or PickleTuple))
                    throw Fail($"dict key '{key}' in '{where}' has type {key?.GetType().Name ?? "null"}; keys must be strings, integers, floats, bools or tuples");
                WriteObject(key, where);
                WriteObject(value, where.Length == 0 ? $"{key}" : $"{where}/{key}");
            }
            _out.WriteByte((byte)'u'); // SETITEMS
        }
    }

    private void WriteTensor(Tensor tensor, string where)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw Fail($"tensor '{where}' is on {tensor.device}; move it to the CPU first");
        var dtype = TorchDtype.FromScalarType(tensor.dtype, $"tensor '{where}'");
        var (storagePtr, storageBytes) = StorageOf(tensor);
        long storageNumel = (long)storageBytes / dtype.ElementSize;

        if (!_storageKeys.TryGetValue((storagePtr, dtype.ScalarType), out var key))
        {
            key = Storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _storageKeys[(storagePtr, dtype.ScalarType)] = key;
            using var detached = tensor.detach();
            var whole = detached.as_strided([storageNumel], [1], 0);
            whole.DetachFromDisposeScope();
            Storages.Add((key, whole));
        }

        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        _out.WriteByte((byte)'(');
        _out.WriteByte((byte)'('); // persistent id ('storage', storage_type, key, location, numel)
        WriteString("storage");
        WriteGlobal("torch", dtype.StorageTypeName);
        WriteString(key);
        WriteString("cpu");
        WriteInt(storageNumel);
        _out.WriteByte((byte)'t');
        _out.WriteByte((byte)'Q'); // BINPERSID
        WriteInt(tensor.storage_offset());
        WriteTuple(tensor.shape.Cast<object?>().ToArray(), where);
        WriteTuple(tensor.stride().Cast<object?>().ToArray(), where);
        _out.WriteByte(0x89); // requires_grad False: a state dict holds plain data
        WriteEmptyOrderedDict(); // backward_hooks
        _out.WriteByte((byte)'t');
        _out.WriteByte((byte)'R');
    }

    /// <summary>The storage a tensor views (its identity and size in bytes), so views of one storage share a record.</summary>
    /// <remarks>
    /// TorchSharp's <c>Tensor.storage&lt;T&gt;()</c> supports neither the 2-byte dtypes nor int8, so the same native
    /// entry points it uses are called directly; they take the tensor handle and work for every dtype.
    /// </remarks>
    private static (IntPtr Ptr, ulong Bytes) StorageOf(Tensor t) => (THSStorage_data_ptr(t.Handle), THSStorage_nbytes(t.Handle));

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSStorage_data_ptr(IntPtr tensor);

    [DllImport("LibTorchSharp")]
    private static extern ulong THSStorage_nbytes(IntPtr tensor);
}
