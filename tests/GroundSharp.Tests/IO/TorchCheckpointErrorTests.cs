using System.IO.Compression;
using System.Text;
using GroundSharp.IO;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.IO;

/// <summary>Malformed or hostile checkpoints give a GroundSharpException naming the file and what is wrong.</summary>
public sealed class TorchCheckpointErrorTests : IDisposable
{
    private readonly TempFolder _temp = new();
    public void Dispose() => _temp.Dispose();

    private static GroundSharpException LoadFails(string path)
    {
        var error = Assert.Throws<GroundSharpException>(() => TorchCheckpointReader.Load(path));
        Assert.Contains(path, error.Message);
        return error;
    }

    [Fact]
    public void ForbiddenGlobal_IsRefusedWithoutRunningIt()
    {
        var marker = _temp.File("pwned");
        var pickle = new PickleAssembler().Proto().Global("os", "system").Mark().Str($"touch {marker}").Op('t').Reduce().Stop().ToArray();
        var path = _temp.File("evil.pth");
        CraftedCheckpoints.WriteArchive(path, pickle);

        var error = LoadFails(path);

        Assert.Contains("'os.system'", error.Message);
        Assert.Contains("weights_only", error.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void ForbiddenGlobal_ViaStackGlobal_IsRefused()
    {
        var pickle = new PickleAssembler().Proto(4).Str("builtins").Str("eval").Op(0x93).Mark().Str("1+1").Op('t').Reduce().Stop().ToArray();
        var path = _temp.File("eval.pth");
        CraftedCheckpoints.WriteArchive(path, pickle);

        Assert.Contains("'builtins.eval'", LoadFails(path).Message);
    }

    [Fact]
    public void TruncatedZip_IsReported()
    {
        var path = _temp.File("truncated.pth");
        using (var weight = ones(64, 64)) TorchCheckpointWriter.SaveStateDict(path, new Dictionary<string, Tensor> { ["w"] = weight });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        Assert.Contains("truncated or corrupt", LoadFails(path).Message);
    }

    [Fact]
    public void ParallelRead_GivesTheSerialReadsTensors_InFileOrder()
    {
        var fixture = FixtureData.PathOf("checkpoint.pth");
        var serial = TorchCheckpointReader.LoadStateDict(fixture, readers: 1, out _);
        var parallel = TorchCheckpointReader.LoadStateDict(fixture, readers: 2, out _);
        try
        {
            Assert.Equal(serial.Keys, parallel.Keys);
            foreach (var (key, t) in serial)
            {
                Assert.Equal(t.dtype, parallel[key].dtype);
                Assert.Equal(t.shape, parallel[key].shape);
                Assert.True(t.eq(parallel[key]).all().item<bool>(), key);
            }
        }
        finally
        {
            foreach (var t in serial.Values.Concat(parallel.Values)) t.Dispose();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void CorruptStorageBytes_NameTheRecord_WithOneOrTwoReaders(int readers)
    {
        // Three tensors; bytes inside the second one's record are changed after saving (its CRC no longer matches).
        var path = _temp.File($"corrupt-{readers}.pth");
        using (var a = zeros(100)) using (var b = full(new long[] { 100 }, 7f)) using (var c = ones(100))
            TorchCheckpointWriter.SaveStateDict(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c });
        var bytes = File.ReadAllBytes(path);
        var seven = BitConverter.GetBytes(7f);
        int at = Enumerable.Range(0, bytes.Length - 4).First(i => bytes.AsSpan(i, 4).SequenceEqual(seven));
        bytes[at + 40] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<GroundSharpException>(() => TorchCheckpointReader.Load(path, readers));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated or corrupt", error.Message);
    }

    [Fact]
    public void NotAZipFile_AndLegacyFormat_AreReported()
    {
        var text = _temp.File("notes.pth");
        File.WriteAllText(text, "hello");
        Assert.Contains("not a zip file", LoadFails(text).Message);

        var legacy = _temp.File("legacy.pth");
        File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        var error = LoadFails(legacy);
        Assert.Contains("legacy", error.Message);
        Assert.Contains("_use_new_zipfile_serialization=True", error.Message);

        var missing = _temp.File("missing.pth");
        Assert.Contains("not found", LoadFails(missing).Message);
    }

    [Fact]
    public void ZipWithoutDataPkl_IsReported()
    {
        var path = _temp.File("other.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            CraftedCheckpoints.Add(zip, "archive/readme.txt", "x"u8.ToArray());

        Assert.Contains("data.pkl", LoadFails(path).Message);
    }

    [Fact]
    public void MissingStorageRecord_NamesTheTensorAndRecord()
    {
        var pickle = PickleAssembler.SingleTensorDict("encoder.weight", "FloatStorage", "7", 4, 0, [2, 2], [2, 1]);
        var path = _temp.File("missing-storage.pth");
        CraftedCheckpoints.WriteArchive(path, pickle, prefix: "checkpoint");

        var error = LoadFails(path);

        Assert.Contains("'encoder.weight'", error.Message);
        Assert.Contains("checkpoint/data/7", error.Message);
    }

    [Fact]
    public void UnknownStorageType_IsNamed()
    {
        var pickle = PickleAssembler.SingleTensorDict("w", "ComplexFloatStorage", "0", 1, 0, [1], [1]);
        var path = _temp.File("complex.pth");
        CraftedCheckpoints.WriteArchive(path, pickle, [("0", new byte[8])]);

        var error = LoadFails(path);

        Assert.Contains("torch.ComplexFloatStorage", error.Message);
        Assert.Contains("data/0", error.Message);
    }

    [Fact]
    public void Directory_IsSaidToBeADirectory_NotMissing()
    {
        var dir = Directory.CreateDirectory(_temp.File("step-0000010")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), []);
        var error = LoadFails(dir);
        Assert.Contains("is a directory", error.Message);
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains("is a directory", Assert.Throws<GroundSharpException>(() => SafeTensors.Load(dir)).Message);
    }

    [Fact]
    public void SmallViewOfAHugeStorage_ReadsOnlyTheView()
    {
        // 64 MB of zeros deflate to a few tens of KB; the tensor is the last 4 floats of that storage.
        const int numel = 16 << 20;
        var storage = new byte[numel * 4L];
        CraftedCheckpoints.Floats(1, 2, 3, 4).CopyTo(storage, storage.Length - 16);
        var pickle = PickleAssembler.SingleTensorDict("w", "FloatStorage", "0", numel, numel - 4, [2, 2], [2, 1]);
        var path = _temp.File("view.pth");
        using (var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create))
        {
            CraftedCheckpoints.Add(zip, "archive/data.pkl", pickle);
            using (var entry = zip.CreateEntry("archive/data/0", CompressionLevel.Optimal).Open()) entry.Write(storage);
            CraftedCheckpoints.Add(zip, "archive/version", Encoding.ASCII.GetBytes("3\n"));
        }
        storage = null;
        Assert.True(new FileInfo(path).Length < 1 << 20);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var sd = TorchCheckpointReader.LoadStateDict(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(new float[] { 1, 2, 3, 4 }, sd["w"].data<float>().ToArray());
        Assert.Equal(new long[] { 2, 2 }, sd["w"].shape);
        Assert.True(allocated < 4 << 20, $"{allocated} bytes allocated to read a 16-byte tensor");
        sd["w"].Dispose();
    }

    [Fact]
    public void StorageTooSmallForTheShape_NamesTheTensor()
    {
        // A (4, 4) tensor on a 6-element storage: the pickle is self-consistent about the storage, not the shape.
        var pickle = PickleAssembler.SingleTensorDict("proj.weight", "FloatStorage", "0", 6, 0, [4, 4], [4, 1]);
        var path = _temp.File("small.pth");
        CraftedCheckpoints.WriteArchive(path, pickle, [("0", CraftedCheckpoints.Floats(1, 2, 3, 4, 5, 6))]);

        var error = LoadFails(path);

        Assert.Contains("'proj.weight'", error.Message);
        Assert.Contains("shape [4, 4]", error.Message);
        Assert.Contains("holds only 6", error.Message);
        Assert.Throws<GroundSharpException>(() => TorchCheckpointReader.LoadStateDict(path));
    }

    [Fact]
    public void StorageRecordShorterThanDeclared_NamesTheTensor()
    {
        var pickle = PickleAssembler.SingleTensorDict("bias", "DoubleStorage", "0", 4, 0, [4], [1]);
        var path = _temp.File("short-record.pth");
        CraftedCheckpoints.WriteArchive(path, pickle, [("0", new byte[16])]);

        var error = LoadFails(path);

        Assert.Contains("'bias'", error.Message);
        Assert.Contains("has 16 bytes", error.Message);
    }

    [Fact]
    public void UnsupportedOpcode_GivesByteAndOffset()
    {
        var path = _temp.File("opcode.pth");
        CraftedCheckpoints.WriteArchive(path, new PickleAssembler().Proto().Op('}').Op(0xff).Stop().ToArray());

        var error = LoadFails(path);

        Assert.Contains("0xFF", error.Message);
        Assert.Contains("offset 3", error.Message);
    }

    [Fact]
    public void TruncatedPickle_IsReported()
    {
        var path = _temp.File("cut.pth");
        var pickle = new PickleAssembler().Proto().Str("a long string").ToArray();
        CraftedCheckpoints.WriteArchive(path, pickle[..^4]);

        Assert.Contains("ends unexpectedly", LoadFails(path).Message);
    }

    [Fact]
    public void BigEndianCheckpoint_IsRefused()
    {
        var path = _temp.File("big.pth");
        using (var stream = File.Create(path))
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
        {
            CraftedCheckpoints.Add(zip, "archive/data.pkl", new PickleAssembler().Proto().Op('}').Stop().ToArray());
            CraftedCheckpoints.Add(zip, "archive/byteorder", Encoding.ASCII.GetBytes("big"));
        }

        Assert.Contains("big-endian", LoadFails(path).Message);
    }

    [Fact]
    public void LoadStateDict_OfACheckpointWithoutTensors_IsReported()
    {
        var path = _temp.File("list.pth");
        TorchCheckpointWriter.Save(path, new List<object?> { 1L, "two" });

        var error = Assert.Throws<GroundSharpException>(() => TorchCheckpointReader.LoadStateDict(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("no state dict", error.Message);
    }

    [Fact]
    public void DeeplyNestedContainers_AreRefusedNotAStackOverflow()
    {
        const int depth = 20_000;
        var nestedLists = new PickleAssembler().Proto();
        for (int i = 0; i < depth; i++) nestedLists.Op(']');
        for (int i = 1; i < depth; i++) nestedLists.Op('a');
        var path = _temp.File("deep.pth");
        CraftedCheckpoints.WriteArchive(path, nestedLists.Stop().ToArray());

        Assert.Contains("nested more than", LoadFails(path).Message);

        var nestedTupleKey = new PickleAssembler().Proto().Op('}').Op(')');
        for (int i = 0; i < depth; i++) nestedTupleKey.Op(0x85);
        nestedTupleKey.Op('N').SetItem().Stop();
        CraftedCheckpoints.WriteArchive(path, nestedTupleKey.ToArray());

        Assert.Contains("nests tuples", LoadFails(path).Message);
    }

    [Fact]
    public void Writer_RefusesValuesItCannotPickle()
    {
        var path = _temp.File("bad.pth");
        var error = Assert.Throws<GroundSharpException>(() => TorchCheckpointWriter.Save(path, new PickleDict { ["when"] = DateTime.Now }));

        Assert.Contains("'when'", error.Message);
        Assert.False(File.Exists(path));
    }
}
