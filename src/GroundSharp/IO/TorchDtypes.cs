using static TorchSharp.torch;

namespace GroundSharp.IO;

/// <summary>The tensor element types the checkpoint formats can hold, with their names in each format.</summary>
internal sealed record TorchDtype(ScalarType ScalarType, int ElementSize, string StorageTypeName, string SafeTensorsName)
{
    public static readonly IReadOnlyList<TorchDtype> All =
    [
        new(ScalarType.Float32, 4, "FloatStorage", "F32"),
        new(ScalarType.Float64, 8, "DoubleStorage", "F64"),
        new(ScalarType.Float16, 2, "HalfStorage", "F16"),
        new(ScalarType.BFloat16, 2, "BFloat16Storage", "BF16"),
        new(ScalarType.Int64, 8, "LongStorage", "I64"),
        new(ScalarType.Int32, 4, "IntStorage", "I32"),
        new(ScalarType.Int16, 2, "ShortStorage", "I16"),
        new(ScalarType.Int8, 1, "CharStorage", "I8"),
        new(ScalarType.Byte, 1, "ByteStorage", "U8"),
        new(ScalarType.Bool, 1, "BoolStorage", "BOOL"),
    ];

    public static TorchDtype? FromStorageTypeName(string name) => All.FirstOrDefault(d => d.StorageTypeName == name);
    public static TorchDtype? FromSafeTensorsName(string name) => All.FirstOrDefault(d => d.SafeTensorsName == name);

    public static TorchDtype FromScalarType(ScalarType type, string context) =>
        All.FirstOrDefault(d => d.ScalarType == type)
        ?? throw new GroundSharpException($"{context}: tensor dtype {type} cannot be stored (supported: {string.Join(", ", All.Select(d => d.ScalarType))})");
}
