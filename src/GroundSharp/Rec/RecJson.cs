using System.Text.Json;
using System.Text.Json.Serialization;

namespace GroundSharp.Rec;

/// <summary>JSON settings shared by the REC configs: snake_case keys, unknown keys are an error.</summary>
internal static class RecJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options)
                ?? throw new GroundSharpException($"{source}: the config is JSON null");
        }
        catch (JsonException e)
        {
            throw new GroundSharpException($"{source}: not a valid {typeof(T).Name}: {ValueDescriptions.Of(e)}", e);
        }
    }
}
