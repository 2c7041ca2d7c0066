using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace GroundSharp.Tests.IO;

/// <summary>Builds pickle bytes opcode by opcode, to craft checkpoints (including malformed ones) for tests.</summary>
public sealed class PickleAssembler
{
    private readonly List<byte> _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();

    public PickleAssembler Op(char opcode) { _bytes.Add((byte)opcode); return this; }
    public PickleAssembler Op(byte opcode) { _bytes.Add(opcode); return this; }
    public PickleAssembler Raw(params byte[] bytes) { _bytes.AddRange(bytes); return this; }

    public PickleAssembler Proto(byte version = 2) => Op(0x80).Raw(version);
    public PickleAssembler Stop() => Op('.');
    public PickleAssembler Mark() => Op('(');
    public PickleAssembler Tuple() => Op('t');
    public PickleAssembler EmptyDict() => Op('}');
    public PickleAssembler SetItem() => Op('s');
    public PickleAssembler Reduce() => Op('R');
    public PickleAssembler BinPersId() => Op('Q');
    public PickleAssembler False() => Op(0x89);
    public PickleAssembler Global(string module, string name) => Op('c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    public PickleAssembler Str(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
        return Op('X').Raw(length).Raw(utf8);
    }

    public PickleAssembler Int(int v)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, v);
        return Op('J').Raw(bytes);
    }

    public PickleAssembler IntTuple(params int[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    /// <summary>
    /// Pushes <c>_rebuild_tensor_v2(('storage', torch.STORAGETYPE, key, 'cpu', numel), offset, size, stride, False, OrderedDict())</c>.
    /// </summary>
    public PickleAssembler Tensor(string storageType, string key, int numel, int offset, int[] size, int[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Tuple().BinPersId();
        Int(offset).IntTuple(size).IntTuple(stride).False();
        Global("collections", "OrderedDict").Op(')').Reduce();
        return Tuple().Reduce();
    }

    /// <summary>A pickle of <c>{name: tensor}</c> with one tensor, as <see cref="Tensor"/> describes it.</summary>
    public static byte[] SingleTensorDict(string name, string storageType, string key, int numel, int offset, int[] size, int[] stride) =>
        new PickleAssembler().Proto().EmptyDict().Str(name).Tensor(storageType, key, numel, offset, size, stride).SetItem().Stop().ToArray();
}

/// <summary>Writes torch.save-style zip archives from caller-supplied records, to craft test checkpoints.</summary>
public static class CraftedCheckpoints
{
    public static void WriteArchive(string path, byte[] dataPkl, IEnumerable<(string Key, byte[] Bytes)>? storages = null, string prefix = "archive")
    {
        using var stream = File.Create(path);
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create);
        Add(zip, $"{prefix}/data.pkl", dataPkl);
        foreach (var (key, bytes) in storages ?? [])
            Add(zip, $"{prefix}/data/{key}", bytes);
        Add(zip, $"{prefix}/version", Encoding.ASCII.GetBytes("3\n"));
    }

    public static void Add(ZipArchive zip, string name, byte[] content)
    {
        using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        entry.Write(content);
    }

    public static byte[] Floats(params float[] values) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}

/// <summary>A fresh folder per test class, deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("groundsharp-io-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, recursive: true);
}

public static class TensorAssert
{
    /// <summary>Same dtype, same shape and bitwise-equal values.</summary>
    public static void Identical(TorchSharp.torch.Tensor expected, TorchSharp.torch.Tensor actual)
    {
        Xunit.Assert.Equal(expected.dtype, actual.dtype);
        Xunit.Assert.Equal(expected.shape, actual.shape);
        using var e = expected.contiguous();
        using var a = actual.contiguous();
        Xunit.Assert.Equal(e.bytes.ToArray(), a.bytes.ToArray());
    }
}
