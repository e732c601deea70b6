import CNNZFormat
