using System.Buffers.Binary;
using System.Text;
using GroundSharp.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly TempFolder _temp = new();
    public void Dispose() => _temp.Dispose();

    [Fact]
    public void RoundTrip_EveryDtypeWithMetadata()
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var dtype in TorchCheckpointRoundTripTests.StorableDtypes)
        {
            using var values = arange(-6, 6, dtype: ScalarType.Float64).reshape(3, 4) * 1.25;
            tensors[$"{dtype}.matrix"] = dtype switch
            {
                ScalarType.Bool => values > 0,
                ScalarType.Byte => values.abs().to_type(dtype),
                _ => values.to_type(dtype),
            };
        }
        tensors["transposed"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t(); // written in C order
        tensors["scalar"] = tensor(3.5);
        tensors["empty"] = empty([0, 4], ScalarType.Int32);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["model"] = "albef-tiny ✓" };
        var path = _temp.File("model.safetensors");

        SafeTensors.Save(path, tensors, metadata);
        var (loaded, loadedMetadata) = SafeTensors.Load(path);

        Assert.Equal(tensors.Keys, loaded.Keys);
        foreach (var (name, expected) in tensors) TensorAssert.Identical(expected, loaded[name]);
        Assert.True(loaded["transposed"].is_contiguous());
        Assert.Equal(metadata, loadedMetadata);
        Assert.Equal(new[] { path }, Directory.GetFiles(_temp.Path));
        foreach (var t in loaded.Values) t.Dispose();
    }

    [Fact]
    public void Layout_MatchesTheFormat()
    {
        using var weight = tensor(new float[] { 1, 2 });
        var path = _temp.File("w.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = weight });

        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);

        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", header.TrimEnd(' '));
        Assert.Equal(8 + headerLength + 8, bytes.Length);
        Assert.Empty(SafeTensors.Load(path).Metadata);
    }

    private string WriteRaw(string name, string header, int bufferBytes)
    {
        var path = _temp.File(name);
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + bufferBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static GroundSharpException LoadFails(string path, params string[] expectedParts)
    {
        var error = Assert.Throws<GroundSharpException>(() => SafeTensors.Load(path));
        Assert.Contains(path, error.Message);
        foreach (var part in expectedParts) Assert.Contains(part, error.Message);
        return error;
    }

    [Fact]
    public void HeaderLengthBeyondTheFile_IsReported()
    {
        var path = _temp.File("huge.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        LoadFails(path, "header length");

        var tiny = _temp.File("tiny.safetensors");
        File.WriteAllBytes(tiny, [1, 2, 3]);
        LoadFails(tiny, "too short");
    }

    [Fact]
    public void CorruptHeader_IsReported()
    {
        LoadFails(WriteRaw("json.safetensors", "{\"w\": {\"dtype\": ", 0), "not valid JSON");
        LoadFails(WriteRaw("dtype.safetensors", "{\"w\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "'w'", "C64");
        LoadFails(WriteRaw("size.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'w'", "needs 12 bytes");
        LoadFails(WriteRaw("shape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8), "'w'", "shape");
        LoadFails(WriteRaw("overlap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps");
        LoadFails(WriteRaw("meta.safetensors", "{\"__metadata__\":{\"epoch\":3}}", 0), "'epoch'");
        LoadFails(WriteRaw("twice.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "'a' is listed twice");
    }

    [Fact]
    public void TruncatedBuffer_NamesTheTensor()
    {
        var path = _temp.File("cut.safetensors");
        using (var a = ones(4))
        using (var b = ones(100))
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^40]);

        LoadFails(path, "'b'", "truncated");
    }

    [Fact]
    public void LoadedTensors_SurviveTheCallersDisposeScope()
    {
        var path = _temp.File("scope.safetensors");
        using (var w = full(3, 2f)) SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = w });

        Dictionary<string, Tensor> loaded;
        using (NewDisposeScope()) loaded = SafeTensors.Load(path).Tensors;

        Assert.Equal(6f, loaded["w"].sum().item<float>());
        loaded["w"].Dispose();
    }
}
