using System.IO.Compression;
using System.Numerics;
using GroundSharp.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.IO;

/// <summary>TorchCheckpointWriter → TorchCheckpointReader, and pickles using protocol 3/4 opcodes.</summary>
public sealed class TorchCheckpointRoundTripTests : IDisposable
{
    private readonly TempFolder _temp = new();
    public void Dispose() => _temp.Dispose();

    public static readonly ScalarType[] StorableDtypes =
    [
        ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    public static TheoryData<ScalarType> AllDtypes => new(StorableDtypes);

    /// <summary>Values that differ per element and, for signed types, include negatives.</summary>
    private static Tensor Sample(ScalarType dtype, params long[] shape)
    {
        using var values = arange(-5, -5 + shape.Aggregate(1L, (a, b) => a * b), dtype: ScalarType.Float64).reshape(shape) * 1.5;
        return dtype switch
        {
            ScalarType.Byte => (values.abs() * 7).to_type(dtype),
            ScalarType.Bool => (values > 0).to_type(dtype),
            _ => values.to_type(dtype),
        };
    }

    [Theory]
    [MemberData(nameof(AllDtypes))]
    public void StateDict_RoundTripsEveryDtype(ScalarType dtype)
    {
        using var matrix = Sample(dtype, 3, 4);
        using var scalar = Sample(dtype);
        using var emptyTensor = empty([0, 2], dtype);
        var path = _temp.File($"{dtype}.pth");

        TorchCheckpointWriter.SaveStateDict(path, new Dictionary<string, Tensor> { ["m"] = matrix, ["s"] = scalar, ["e"] = emptyTensor });
        var loaded = TorchCheckpointReader.LoadStateDict(path);

        Assert.Equal(new[] { "m", "s", "e" }, loaded.Keys);
        TensorAssert.Identical(matrix, loaded["m"]);
        TensorAssert.Identical(scalar, loaded["s"]);
        TensorAssert.Identical(emptyTensor, loaded["e"]);
        foreach (var t in loaded.Values) t.Dispose();
    }

    [Fact]
    public void ViewsSharingOneStorage_AreWrittenOnceAndReadWithTheirStridesAndOffsets()
    {
        using var baseTensor = arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        using var transposed = baseTensor.t();                                   // strides (1, 6)
        using var block = baseTensor[TensorIndex.Slice(1, 3), TensorIndex.Slice(2, 5)]; // offset 8, strides (6, 1)
        using var row = baseTensor[2];                                           // offset 12, contiguous
        using var everyOther = baseTensor[TensorIndex.Slice(), TensorIndex.Slice(1, null, 2)].t(); // offset 1, strides (2, 6)
        var path = _temp.File("views.pth");
        var views = new Dictionary<string, Tensor> { ["base"] = baseTensor, ["t"] = transposed, ["block"] = block, ["row"] = row, ["odd"] = everyOther };

        TorchCheckpointWriter.SaveStateDict(path, views);

        using (var zip = ZipFile.OpenRead(path))
            Assert.Single(zip.Entries, e => e.FullName.StartsWith("archive/data/", StringComparison.Ordinal));
        var loaded = TorchCheckpointReader.LoadStateDict(path);
        foreach (var (name, view) in views)
        {
            TensorAssert.Identical(view, loaded[name]);
            Assert.True(loaded[name].is_contiguous());
        }
        loaded["t"].fill_(-1f); // independent copies, not views of one buffer
        Assert.Equal(1f, loaded["odd"][0, 0].item<float>());
        foreach (var t in loaded.Values) t.Dispose();
    }

    [Fact]
    public void ObjectTree_RoundTripsDictsListsTuplesAndScalars()
    {
        using var tensor = arange(6, dtype: ScalarType.Int64).reshape(2, 3);
        var ordered = new PickleDict(isOrderedDict: true) { ["z"] = 1L, ["a"] = 2L };
        var root = new PickleDict
        {
            ["ordered"] = ordered,
            ["nested"] = new PickleDict { ["inner"] = new PickleDict { ["list"] = new List<object?> { 1L, 2.5, "text", true, false, null, tensor } } },
            ["tuples"] = new List<object?> { PickleTuple.Empty, new PickleTuple(1L), new PickleTuple(1L, "x"), new PickleTuple(1L, 2L, 3L), new PickleTuple(1L, 2L, 3L, 4L, 5L) },
            ["integers"] = new List<object?> { 0L, 255L, 256L, 65535L, 65536L, -1L, (long)int.MinValue, 1L << 40, long.MinValue, long.MaxValue, BigInteger.Pow(2, 70) },
            ["floats"] = new List<object?> { 0.07, -1e300, double.NaN, double.PositiveInfinity },
            ["unicode"] = "grüße ✓",
            [7L] = "integer key",
            [new PickleTuple("tuple", 1L)] = "tuple key",
            ["many"] = Enumerable.Range(0, 2500).Select(i => (object?)(long)i).ToList(), // more than one APPENDS batch
        };
        var path = _temp.File("tree.pth");

        TorchCheckpointWriter.Save(path, root);
        var loaded = Assert.IsType<PickleDict>(TorchCheckpointReader.Load(path));

        Assert.Equal(root.Keys, loaded.Keys);
        var loadedOrdered = Assert.IsType<PickleDict>(loaded["ordered"]);
        Assert.True(loadedOrdered.IsOrderedDict);
        Assert.False(loaded.IsOrderedDict);
        Assert.Equal(new object[] { "z", "a" }, loadedOrdered.Keys.ToArray());
        var list = (List<object?>)((PickleDict)((PickleDict)loaded["nested"]!)["inner"]!)["list"]!;
        Assert.Equal(new object?[] { 1L, 2.5, "text", true, false, null }, list.Take(6));
        using (var loadedTensor = Assert.IsType<Tensor>(list[6])) TensorAssert.Identical(tensor, loadedTensor);
        Assert.Equal((List<object?>)root["tuples"]!, (List<object?>)loaded["tuples"]!);
        Assert.Equal(((List<object?>)root["integers"]!).Select(v => $"{v?.GetType().Name}:{v}"), ((List<object?>)loaded["integers"]!).Select(v => $"{v?.GetType().Name}:{v}"));
        Assert.Equal((List<object?>)root["floats"]!, (List<object?>)loaded["floats"]!);
        Assert.Equal("grüße ✓", loaded["unicode"]);
        Assert.Equal("integer key", loaded[7L]);
        Assert.Equal("tuple key", loaded[new PickleTuple("tuple", 1L)]);
        Assert.Equal(2500, ((List<object?>)loaded["many"]!).Count);
    }

    [Fact]
    public void SaveCheckpoint_WrapsTheStateDictUnderModel()
    {
        using var weight = ones(2, 2);
        var path = _temp.File("ckpt.pth");

        TorchCheckpointWriter.SaveCheckpoint(path, new Dictionary<string, Tensor> { ["w"] = weight },
            [new("epoch", 3L), new("config", new PickleDict { ["lr"] = 1e-4 })]);

        var root = Assert.IsType<PickleDict>(TorchCheckpointReader.Load(path));
        Assert.Equal(3L, root["epoch"]);
        Assert.True(((PickleDict)root["model"]!).IsOrderedDict);
        ((Tensor)((PickleDict)root["model"]!)["w"]!).Dispose();
        var stateDict = TorchCheckpointReader.LoadStateDict(path, out var skipped);
        Assert.Equal(new[] { "w" }, stateDict.Keys);
        Assert.Empty(skipped);
        stateDict["w"].Dispose();
    }

    [Fact]
    public void Save_ReplacesAnExistingFileAndLeavesNoTemporaryFile()
    {
        var path = _temp.File("model.pth");
        File.WriteAllText(path, "old content");
        using var weight = ones(3);

        TorchCheckpointWriter.SaveStateDict(path, new Dictionary<string, Tensor> { ["w"] = weight });

        Assert.Equal(new[] { path }, Directory.GetFiles(_temp.Path));
        using (var zip = ZipFile.OpenRead(path))
        {
            Assert.Equal("archive/data.pkl", zip.Entries[0].FullName); // torch takes the folder name from the first record
            Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength)); // stored, not deflated
            Assert.NotNull(zip.GetEntry("archive/byteorder"));
            Assert.NotNull(zip.GetEntry("archive/version"));
        }
        var loaded = TorchCheckpointReader.LoadStateDict(path);
        TensorAssert.Identical(weight, loaded["w"]);
        loaded["w"].Dispose();
    }

    [Fact]
    public void DeflatedArchive_WithAnotherFolderName_IsRead()
    {
        using var weight = arange(100, dtype: ScalarType.Float64);
        var stored = _temp.File("stored.pth");
        var deflated = _temp.File("deflated.pth");
        TorchCheckpointWriter.SaveStateDict(stored, new Dictionary<string, Tensor> { ["w"] = weight });
        using (var source = ZipFile.OpenRead(stored))
        using (var target = ZipFile.Open(deflated, ZipArchiveMode.Create))
            foreach (var entry in source.Entries)
            {
                using var input = entry.Open();
                using var output = target.CreateEntry(entry.FullName.Replace("archive/", "my_model/"), CompressionLevel.Optimal).Open();
                input.CopyTo(output);
            }

        var loaded = TorchCheckpointReader.LoadStateDict(deflated);

        TensorAssert.Identical(weight, loaded["w"]);
        loaded["w"].Dispose();
    }

    [Fact]
    public void StateDictKey_AndBareStateDictKey_AreAccepted()
    {
        using var weight = full(2, 7L);
        var bare = _temp.File("bare.pth");
        var wrapped = _temp.File("wrapped.pth");
        TorchCheckpointWriter.SaveStateDict(bare, new Dictionary<string, Tensor> { ["w"] = weight });
        TorchCheckpointWriter.Save(wrapped, new PickleDict { ["state_dict"] = new PickleDict(true) { ["w"] = weight, ["note"] = "not a tensor" }, ["step"] = 5L });

        foreach (var path in new[] { bare, wrapped })
        {
            var loaded = TorchCheckpointReader.LoadStateDict(path, out var skipped);
            TensorAssert.Identical(weight, loaded["w"]);
            Assert.Equal(path == wrapped ? new[] { "note" } : [], skipped);
            loaded["w"].Dispose();
        }
    }

    [Fact]
    public void Protocol4Pickle_WithFramesMemoizeStackGlobalAndBytes_IsRead()
    {
        // {'data': b'abc', 'od': OrderedDict(), 'w': tensor}, as CPython's protocol-4 pickler would emit it.
        var body = new PickleAssembler()
            .Op('}').Op(0x94)                                                                  // memo 0: the dict
            .Mark()
            .Op(0x8c).Raw(4).Raw("data"u8.ToArray()).Op(0x94)                                  // memo 1
            .Op('C').Raw(3).Raw("xyz"u8.ToArray()).Op(0x94)                                    // memo 2: bytes
            .Op(0x8c).Raw(2).Raw("od"u8.ToArray())
            .Op(0x8c).Raw(11).Raw("collections"u8.ToArray()).Op(0x8c).Raw(11).Raw("OrderedDict"u8.ToArray()).Op(0x93)
            .Op(')').Op('R')
            .Op(0x8c).Raw(1).Raw("w"u8.ToArray())
            .Tensor("FloatStorage", "0", 2, 0, [2], [1])
            .Op('u')                                                                           // SETITEMS
            .Op(0x8c).Raw(4).Raw("copy"u8.ToArray()).Op('h').Raw(2).Op('s')                    // 'copy': memo 2 again
            .Stop().ToArray();
        var pickle = new PickleAssembler().Proto(4).Op(0x95).Raw(BitConverter.GetBytes((long)body.Length)).Raw(body).ToArray();
        var path = _temp.File("p4.pth");
        CraftedCheckpoints.WriteArchive(path, pickle, [("0", CraftedCheckpoints.Floats(1.5f, -2f))], prefix: "p4");

        var root = Assert.IsType<PickleDict>(TorchCheckpointReader.Load(path));

        Assert.Equal("xyz"u8.ToArray(), root["data"]);
        Assert.Same(root["data"], root["copy"]);
        Assert.True(Assert.IsType<PickleDict>(root["od"]).IsOrderedDict);
        using var w = Assert.IsType<Tensor>(root["w"]);
        Assert.Equal(new[] { 1.5f, -2f }, w.data<float>().ToArray());
    }
}
